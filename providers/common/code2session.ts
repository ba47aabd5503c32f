import type { FastifyBaseLogger } from 'fastify'
import { decrypt, verifyRawData } from '../../lib/open-data.js'
import type { LatestSessionKeys } from '../../store/latest-session-keys.js'
import type { Exchange, ExchangeContext, Identity, LoginProvider, Provider, Session } from '../../types.js'
import type { HttpAppConfig } from './app-options.js'
import { AppsProvider } from './apps-provider.js'
import { ErrcodeHttp, type ErrcodeApp } from './errcode-http.js'
import { errcodeOf, type Platform } from './errcodes.js'
import { sessionKeyField, stringField } from './json-http.js'
import { SessionOpenData, type UserInfoPayload } from './session-data.js'

export interface Code2SessionResult {
  appId: string
  openId: string
  unionId?: string
  /** Server-side secret: keep it in the session, never send it to the client. */
  sessionKey: string
}

/** What WeChat's and QQ's clients share: the login exchange and the open data of a session. */
export interface Code2SessionClient {
  /** Configured AppIDs; the first is the default. */
  readonly appIds: readonly string[]
  /** The AppID a request names, or the default one; MPA_UNKNOWN_APP when it is not configured. */
  resolveAppId: (appId?: string) => string
  /** sns/jscode2session: a login code for openid, unionid and session_key. */
  code2Session: (code: string, appId?: string) => Promise<Code2SessionResult>
  /** AES-128-CBC decryption of getUserInfo / legacy getPhoneNumber data; checks watermark.appid. */
  decrypt: (sessionKey: string, encryptedData: string, iv: string, appId: string) => Record<string, unknown>
  /** Checks signature = sha1(rawData + session_key); MPA_SIGNATURE_MISMATCH otherwise. */
  verifyRawData: (rawData: string, signature: string, sessionKey: string) => void
  /**
   * Decrypts data a session's client sent: with the latest session_key the
   * platform issued for its openid (each login rotates it), else the session's own.
   * Also gives the key that opened it, for the rawData signature.
   */
  openForSession: (session: Session, encryptedData: string, iv: string) => Promise<{ data: Record<string, unknown>, sessionKey: string }>
  /** A session's decrypted and verified user info. */
  userInfo: (session: Session, payload: UserInfoPayload) => Promise<Record<string, unknown>>
}

/**
 * A login by sns/jscode2session in WeChat's wire format, which QQ copied at
 * its own host: the exchange, the openid's latest session_key, and the open
 * data of the sessions it starts.
 */
export class Code2SessionProvider extends AppsProvider<ErrcodeApp> implements LoginProvider, Code2SessionClient {
  readonly decrypt = decrypt
  readonly verifyRawData = verifyRawData
  protected readonly http: ErrcodeHttp
  protected readonly openData: SessionOpenData

  constructor (readonly name: Provider, platform: Platform, configs: HttpAppConfig[], sessionKeys: LatestSessionKeys, log: FastifyBaseLogger) {
    const http = new ErrcodeHttp(configs, log, platform)
    super(http.apps)
    this.http = http
    this.openData = new SessionOpenData(sessionKeys)
  }

  exchangeBudgetMs (appId: string): number {
    return this.http.budgetMs(this.apps.get(appId))
  }

  /** jscode2session, then the session_key it gave becomes the openid's latest. */
  async exchange (code: string, { appId, log }: ExchangeContext): Promise<Exchange> {
    const { openId, unionId, sessionKey } = await this.code2Session(code, appId)
    this.openData.remember(appId, openId, sessionKey, log)
    const identity: Identity = { provider: this.name, surface: 'miniprogram', appId, openId, ...(unionId ? { unionId } : {}) }
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
      sessionKey: sessionKeyField(reply, endpoint)
    }
    if (typeof reply.unionid === 'string' && reply.unionid !== '') result.unionId = reply.unionid
    return result
  }

  openForSession (session: Session, encryptedData: string, iv: string): Promise<{ data: Record<string, unknown>, sessionKey: string }> {
    return this.openData.open(session, encryptedData, iv)
  }

  userInfo (session: Session, payload: UserInfoPayload): Promise<Record<string, unknown>> {
    return this.openData.userInfo(session, payload)
  }

  close (): Promise<void> {
    return this.http.close()
  }
}
