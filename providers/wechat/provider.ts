import type { FastifyBaseLogger } from 'fastify'
import { createHmac } from 'node:crypto'
import { BadEncryptedDataError, PhoneCodeInvalidError, SessionKeyExpiredError, UpstreamError } from '../../errors.js'
import { Apps } from '../../lib/apps.js'
import type { WechatSessionKeyRecords } from '../../store/wechat-session-keys.js'
import type { WechatTokenRecords } from '../../store/wechat-tokens.js'
import type { Exchange, ExchangeContext, Identity, LoginProvider, Session } from '../../types.js'
import { decrypt, phoneNumberOf, verifyRawData, type PhoneNumber } from './crypto.js'
import { PHONE_CODE_INVALID, SESSION_KEY_INVALID, errcodeOf } from './errcodes.js'
import { WechatHttp, stringField, type WechatApp } from './http.js'
import type { WechatAppConfig } from './options.js'
import { WechatAccessTokens } from './token.js'

export interface Code2SessionResult {
  appId: string
  openId: string
  unionId?: string
  /** Server-side secret: keep it in the session, never send it to the client. */
  sessionKey: string
}

/** What wx.getUserInfo gives the mini-program; rawData and signature go together. */
export interface WechatUserInfoPayload {
  encryptedData: string
  iv: string
  rawData?: string
  signature?: string
}

/** The current getPhoneNumber button's code, or the legacy encrypted data. */
export type WechatPhonePayload = { code: string } | { encryptedData: string, iv: string }

export interface WechatClient {
  /** Configured AppIDs; the first is the default. */
  readonly appIds: readonly string[]
  /** The AppID a request names, or the default one; MPA_UNKNOWN_APP when it is not configured. */
  resolveAppId: (appId?: string) => string
  /** sns/jscode2session: a wx.login code for openid, unionid and session_key. */
  code2Session: (code: string, appId?: string) => Promise<Code2SessionResult>
  /**
   * wxa/business/getuserphonenumber: a getPhoneNumber button code for the
   * user's phone number. With `openId`, WeChat checks the code belongs to that user.
   */
  getPhoneNumber: (code: string, appId?: string, openId?: string) => Promise<PhoneNumber>
  /** wxa/checksession: whether WeChat still holds this session_key for the user. */
  checkSessionKey: (openId: string, sessionKey: string, appId?: string) => Promise<boolean>
  /** The app's access token from cgi-bin/stable_token, shared by every instance through Redis. */
  accessToken: (appId?: string) => Promise<string>
  /** AES-128-CBC decryption of wx.getUserInfo / legacy getPhoneNumber data; checks watermark.appid. */
  decrypt: (sessionKey: string, encryptedData: string, iv: string, appId: string) => Record<string, unknown>
  /** Checks signature = sha1(rawData + session_key); MPA_SIGNATURE_MISMATCH otherwise. */
  verifyRawData: (rawData: string, signature: string, sessionKey: string) => void
  /**
   * Decrypts data a session's client sent: with the latest session_key WeChat
   * issued for its openid (each wx.login rotates it), else the session's own.
   * Also gives the key that opened it, for the rawData signature.
   */
  openForSession: (session: Session, encryptedData: string, iv: string) => Promise<{ data: Record<string, unknown>, sessionKey: string }>
  /** A session's decrypted and verified user info. */
  userInfo: (session: Session, payload: WechatUserInfoPayload) => Promise<Record<string, unknown>>
  /** A session's phone number, from either kind of payload. */
  phoneNumber: (session: Session, payload: WechatPhonePayload) => Promise<PhoneNumber>
}

/** WeChat: the login exchange (jscode2session) and the calls a session makes afterwards. */
export class WechatProvider implements LoginProvider, WechatClient {
  readonly name = 'wechat'
  readonly appIds: readonly string[]
  readonly decrypt = decrypt
  readonly verifyRawData = verifyRawData
  private readonly apps: Apps<WechatApp>
  private readonly http: WechatHttp
  private readonly tokens: WechatAccessTokens

  constructor (
    configs: WechatAppConfig[],
    tokenRecords: WechatTokenRecords,
    private readonly sessionKeys: WechatSessionKeyRecords,
    log: FastifyBaseLogger
  ) {
    this.http = new WechatHttp(configs, log)
    this.tokens = new WechatAccessTokens(this.http, tokenRecords, log)
    this.apps = new Apps(this.http.apps)
    this.appIds = this.apps.ids
  }

  resolveAppId (appId?: string): string {
    return this.apps.get(appId).appId
  }

  exchangeBudgetMs (appId: string): number {
    return this.http.budgetMs(this.apps.get(appId))
  }

  /** jscode2session, then the session_key it gave becomes the openid's latest. */
  async exchange (code: string, { appId }: ExchangeContext): Promise<Exchange> {
    const { openId, unionId, sessionKey } = await this.code2Session(code, appId)
    await this.sessionKeys.remember(appId, openId, sessionKey)
    const identity: Identity = { provider: 'wechat', appId, openId, ...(unionId ? { unionId } : {}) }
    return { identity, secrets: { sessionKey } }
  }

  async code2Session (code: string, appId?: string): Promise<Code2SessionResult> {
    const app = this.apps.get(appId)
    const endpoint = 'sns/jscode2session'
    const secrets = [app.appSecret]
    const reply = await this.http.request(app, endpoint, {
      method: 'GET',
      query: { appid: app.appId, secret: app.appSecret, js_code: code, grant_type: 'authorization_code' },
      secrets
    })
    if (errcodeOf(reply) !== 0) throw this.http.fail(app, endpoint, reply, secrets)
    const result: Code2SessionResult = {
      appId: app.appId,
      openId: stringField(reply, 'openid', endpoint),
      sessionKey: stringField(reply, 'session_key', endpoint)
    }
    if (typeof reply.unionid === 'string' && reply.unionid !== '') result.unionId = reply.unionid
    return result
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

  accessToken (appId?: string): Promise<string> {
    return this.tokens.tokenFor(this.apps.get(appId))
  }

  async openForSession (session: Session, encryptedData: string, iv: string): Promise<{ data: Record<string, unknown>, sessionKey: string }> {
    const { appId, openId } = session
    const latest = openId ? await this.sessionKeys.latest(appId, openId) : null
    // The latest key first; then the session's own, for data the client
    // captured before a later login rotated the key.
    const keys = [...new Set([latest, session.secrets.sessionKey].filter((key): key is string => Boolean(key)))]
    for (const [i, sessionKey] of keys.entries()) {
      try {
        return { data: decrypt(sessionKey, encryptedData, iv, appId), sessionKey }
      } catch (err) {
        if (!(err instanceof SessionKeyExpiredError) || i === keys.length - 1) throw err
      }
    }
    throw new SessionKeyExpiredError()
  }

  async userInfo (session: Session, { encryptedData, iv, rawData, signature }: WechatUserInfoPayload): Promise<Record<string, unknown>> {
    // Decrypt first: a rotated key then gives the "log in again" 401, not a signature error.
    const { data, sessionKey } = await this.openForSession(session, encryptedData, iv)
    if (rawData !== undefined && signature !== undefined) verifyRawData(rawData, signature, sessionKey)
    return data
  }

  async phoneNumber (session: Session, payload: WechatPhonePayload): Promise<PhoneNumber> {
    // The session's openid goes along: WeChat then refuses a phone code another user was given.
    if ('code' in payload) return this.getPhoneNumber(payload.code, session.appId, session.openId)
    const phone = phoneNumberOf((await this.openForSession(session, payload.encryptedData, payload.iv)).data)
    if (!phone) throw new BadEncryptedDataError('it holds no phone number')
    return phone
  }

  close (): Promise<void> {
    return this.http.close()
  }
}
