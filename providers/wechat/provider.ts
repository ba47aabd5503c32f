import type { FastifyBaseLogger } from 'fastify'
import { createHmac } from 'node:crypto'
import { MisconfiguredError, PhoneCodeInvalidError, UpstreamError } from '../../errors.js'
import { phoneNumberOf, type PhoneNumber } from '../../lib/open-data.js'
import type { LatestSessionKeys } from '../../store/latest-session-keys.js'
import type { WechatTokenRecords } from '../../store/wechat-tokens.js'
import type { Session } from '../../types.js'
import type { EncryptedPayload, UserInfoPayload } from '../common/session-data.js'
import type { HttpAppConfig } from '../common/app-options.js'
import { Code2SessionProvider, type Code2SessionClient } from '../common/code2session.js'
import { PHONE_CODE_INVALID, SESSION_KEY_INVALID, WECHAT, errcodeOf } from '../common/errcodes.js'
import { WechatAccessTokens } from './token.js'

export type { Code2SessionResult } from '../common/code2session.js'

/** What wx.getUserInfo gives the mini-program; rawData and signature go together. */
export type WechatUserInfoPayload = UserInfoPayload

/** The current getPhoneNumber button's code, or the legacy encrypted data. */
export type WechatPhonePayload = { code: string } | EncryptedPayload

/** wxacode.getUnlimited's parameters (its docs' names in camelCase). */
export interface UnlimitedCodeRequest {
  /** Up to 32 visible characters, handed to the page as `scene` in its query. */
  scene: string
  /** The page the code opens, without a leading '/'; default the app's home page. */
  page?: string
  /** Whether WeChat checks that the page exists in the released version. WeChat's default true. */
  checkPath?: boolean
  /** 'release' (default), 'trial' or 'develop'. */
  envVersion?: 'release' | 'trial' | 'develop'
  /** Pixels, 280 to 1280; WeChat's default 430. */
  width?: number
}

// wxacode.getUnlimited's refusals of its parameters: the app's options are wrong (page, env_version), or ours (the scene).
const WXACODE_PARAMETERS = new Map([[41030, 'the page does not exist in the released version (or starts with \'/\'): check the scan login\'s page, or turn checkPath off'],
  [40129, 'the scene has characters WeChat refuses'], [40169, 'the scene is empty or longer than 32 characters'], [40097, 'invalid env_version']])

export interface WechatClient extends Code2SessionClient {
  /**
   * wxa/business/getuserphonenumber: a getPhoneNumber button code for the
   * user's phone number. With `openId`, WeChat checks the code belongs to that user.
   */
  getPhoneNumber: (code: string, appId?: string, openId?: string) => Promise<PhoneNumber>
  /** wxa/checksession: whether WeChat still holds this session_key for the user. */
  checkSessionKey: (openId: string, sessionKey: string, appId?: string) => Promise<boolean>
  /** The app's access token from cgi-bin/stable_token, shared by every instance through Redis. */
  accessToken: (appId?: string) => Promise<string>
  /** A session's phone number, from either kind of payload. */
  phoneNumber: (session: Session, payload: WechatPhonePayload) => Promise<PhoneNumber>
  /** wxacode.getUnlimited: a mini-program code image (its bytes and content type) that opens `page` with `scene`. */
  unlimitedCode: (request: UnlimitedCodeRequest, appId?: string) => Promise<{ image: Buffer, contentType: string }>
}

/** WeChat: the login exchange (jscode2session) and the calls a session makes afterwards. */
export class WechatProvider extends Code2SessionProvider implements WechatClient {
  private readonly tokens: WechatAccessTokens

  constructor (
    configs: HttpAppConfig[],
    tokenRecords: WechatTokenRecords,
    sessionKeys: LatestSessionKeys,
    private readonly log: FastifyBaseLogger
  ) {
    super('wechat', WECHAT, configs, sessionKeys, log)
    this.tokens = new WechatAccessTokens(this.http, tokenRecords, log)
  }

  async getPhoneNumber (code: string, appId?: string, openId?: string): Promise<PhoneNumber> {
    const app = this.apps.get(appId)
    const endpoint = 'wxa/business/getuserphonenumber'
    const body = openId ? { code, openid: openId } : { code }
    const { reply, secrets } = await this.tokens.request(app, endpoint, (token) => ({
      method: 'POST', query: { access_token: token }, body, secrets: [app.appSecret, token]
    }))
    const errcode = errcodeOf(reply)
    if (errcode === PHONE_CODE_INVALID) throw new PhoneCodeInvalidError(`${endpoint} errcode ${PHONE_CODE_INVALID}`)
    if (errcode !== 0) throw this.http.fail(app, endpoint, reply, secrets)
    const info = reply.phone_info
    const phone = typeof info === 'object' && info !== null ? phoneNumberOf(info as Record<string, unknown>) : null
    if (!phone) throw new UpstreamError(`${endpoint} answered without a complete phone_info`)
    return phone
  }

  async checkSessionKey (openId: string, sessionKey: string, appId?: string): Promise<boolean> {
    const app = this.apps.get(appId)
    const endpoint = 'wxa/checksession'
    const signature = createHmac('sha256', sessionKey).update('').digest('hex')
    const { reply, secrets } = await this.tokens.request(app, endpoint, (token) => ({
      method: 'GET',
      query: { access_token: token, openid: openId, signature, sig_method: 'hmac_sha256' },
      secrets: [app.appSecret, token, sessionKey]
    }))
    const errcode = errcodeOf(reply)
    if (errcode === SESSION_KEY_INVALID) return false
    if (errcode !== 0) throw this.http.fail(app, endpoint, reply, secrets)
    return true
  }

  async unlimitedCode ({ scene, page, checkPath, envVersion, width }: UnlimitedCodeRequest, appId?: string): Promise<{ image: Buffer, contentType: string }> {
    const app = this.apps.get(appId)
    const endpoint = 'wxa/getwxacodeunlimit'
    const body = {
      scene,
      ...(page === undefined ? {} : { page }),
      ...(checkPath === undefined ? {} : { check_path: checkPath }),
      ...(envVersion === undefined ? {} : { env_version: envVersion }),
      ...(width === undefined ? {} : { width })
    }
    const { reply, secrets } = await this.tokens.request(app, endpoint, (token) => ({
      method: 'POST', query: { access_token: token }, body, image: true, secrets: [app.appSecret, token]
    }))
    const problem = WXACODE_PARAMETERS.get(errcodeOf(reply))
    if (problem) {
      this.log.error({ appId: app.appId, endpoint, errcode: errcodeOf(reply) }, `WeChat refused the mini-program code: ${problem}`)
      throw new MisconfiguredError(`WeChat refused the mini-program code (${endpoint} errcode ${errcodeOf(reply)}); the server log says what to fix`)
    }
    if (errcodeOf(reply) !== 0) throw this.http.fail(app, endpoint, reply, secrets)
    if (!Buffer.isBuffer(reply.image)) throw new UpstreamError(`${endpoint} answered JSON without an errcode instead of an image`)
    return { image: reply.image, contentType: String(reply.contentType) }
  }

  accessToken (appId?: string): Promise<string> {
    return this.tokens.tokenFor(this.apps.get(appId))
  }

  async phoneNumber (session: Session, payload: WechatPhonePayload): Promise<PhoneNumber> {
    // The session's openid goes along: WeChat then refuses a phone code another user was given.
    if ('code' in payload) return this.getPhoneNumber(payload.code, session.appId, session.openId)
    return this.openData.phoneNumber(session, payload)
  }
}
