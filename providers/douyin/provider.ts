import type { FastifyBaseLogger } from 'fastify'
import { AnonymousLoginRefusedError, CodeInvalidError, UpstreamError } from '../../errors.js'
import { observeUpstream } from '../../lib/diagnostics.js'
import type { PhoneNumber } from '../../lib/open-data.js'
import type { LatestSessionKeys } from '../../store/latest-session-keys.js'
import type { Exchange, ExchangeContext, Identity, LoginProvider, Session } from '../../types.js'
import { AppsProvider } from '../common/apps-provider.js'
import { JsonHttp, sessionKeyField, stringField, type JsonReply } from '../common/json-http.js'
import { SessionOpenData, type EncryptedPayload, type UserInfoPayload } from '../common/session-data.js'
import { errNoError, errNoOf } from './err-nos.js'
import type { DouyinAppConfig } from './options.js'
import type { DouyinPhoneCodes } from './phone-code.js'

/** What tt.login gives: `code` when the user is logged in to the host app, `anonymousCode` always. */
export interface DouyinCodes {
  code?: string
  anonymousCode?: string
}

export interface DouyinSession {
  appId: string
  /** With a code: the user's openid, unionid and session_key. */
  openId?: string
  unionId?: string
  /** Server-side secret: keep it in the session, never send it to the client. */
  sessionKey?: string
  /** With an anonymousCode: the device's anonymous_openid. */
  anonymousOpenId?: string
}

export interface DouyinClient {
  /** Configured AppIDs; the first is the default. */
  readonly appIds: readonly string[]
  /** The AppID a request names, or the default one; MPA_UNKNOWN_APP when it is not configured. */
  resolveAppId: (appId?: string) => string
  /**
   * The login code the login flow claims for a tt.login answer: one string for
   * the pair, so a retry of the same pair replays and another pairing does
   * not. The exchange refuses an anonymous-only login the app does not
   * accept (403), inside the login flow, whose login event counts it.
   */
  loginCode: (codes: DouyinCodes, appId?: string) => string
  /** api/apps/v2/jscode2session: the codes for openid, unionid, session_key and anonymous_openid. */
  code2Session: (codes: DouyinCodes, appId?: string) => Promise<DouyinSession>
  /** Decrypts data a session's client sent, with the openid's latest session_key, else the session's own. */
  openForSession: (session: Session, encryptedData: string, iv: string) => Promise<{ data: Record<string, unknown>, sessionKey: string }>
  /** A session's decrypted user info; with rawData and signature, the signature is checked too. */
  userInfo: (session: Session, payload: UserInfoPayload) => Promise<Record<string, unknown>>
  /** A session's phone number, from the getPhoneNumber button's code (3.51.0+, with a phonePrivateKey) or its encrypted data. */
  phoneNumber: (session: Session, payload: EncryptedPayload | { code: string }) => Promise<PhoneNumber>
}

type DouyinApp = JsonHttp<DouyinAppConfig>['apps'][number]

const ENDPOINT = 'api/apps/v2/jscode2session'
// Between the two codes of a login code: neither code can hold one (the route's pattern).
const SEPARATOR = ' '

/** Douyin (and Toutiao and the other ByteDance hosts): the login exchange and the open data of a session. */
export class DouyinProvider extends AppsProvider<DouyinApp> implements LoginProvider, DouyinClient {
  readonly name = 'douyin'
  private readonly http: JsonHttp<DouyinAppConfig>
  private readonly openData: SessionOpenData

  constructor (configs: DouyinAppConfig[], sessionKeys: LatestSessionKeys, private readonly log: FastifyBaseLogger, private readonly phoneCodes: DouyinPhoneCodes) {
    const http = new JsonHttp(configs)
    super(http.apps)
    this.http = http
    this.openData = new SessionOpenData(sessionKeys)
  }

  /** One call, no retry: Douyin documents no busy answer worth one. */
  exchangeBudgetMs (appId: string): number {
    return this.apps.get(appId).timeoutMs
  }

  loginCode ({ code = '', anonymousCode = '' }: DouyinCodes): string {
    return anonymousCode ? `${code}${SEPARATOR}${anonymousCode}` : code
  }

  /** jscode2session; a logged-in user's session_key becomes the openid's latest. */
  async exchange (loginCode: string, { appId, log }: ExchangeContext): Promise<Exchange> {
    const [code = '', anonymousCode = '', ...rest] = loginCode.split(SEPARATOR)
    if (rest.length > 0) throw new CodeInvalidError('not a tt.login code')
    this.#accept(this.apps.get(appId), { code, anonymousCode })
    const { openId, unionId, sessionKey, anonymousOpenId } = await this.code2Session({ code, anonymousCode }, appId)
    if (openId && sessionKey) {
      this.openData.remember(appId, openId, sessionKey, log)
      const identity: Identity = { provider: 'douyin', surface: 'miniprogram', appId, openId, ...(unionId ? { unionId } : {}), ...(anonymousOpenId ? { anonymousOpenId } : {}) }
      return { identity, secrets: { sessionKey } }
    }
    // An anonymous login: the device is all Douyin vouches for, and there is no session_key.
    return { identity: { provider: 'douyin', surface: 'miniprogram', appId, openId: anonymousOpenId, anonymousOpenId, anonymous: true }, secrets: {} }
  }

  async code2Session ({ code = '', anonymousCode = '' }: DouyinCodes, appId?: string): Promise<DouyinSession> {
    const app = this.apps.get(appId)
    const secrets = [app.appSecret]
    // Both fields always, empty when absent, as Douyin's own example sends them.
    const call = () => this.http.fetchJson(app, ENDPOINT, {
      method: 'POST',
      body: { appid: app.appId, secret: app.appSecret, code, anonymous_code: anonymousCode }
    })
    const errNo = ({ reply }: { reply: JsonReply }) => errNoOf(reply) === 0 ? undefined : errNoOf(reply)
    const { status, reply } = await observeUpstream({ provider: 'douyin', operation: ENDPOINT, appId: app.appId }, call, errNo)
    if (errNoOf(reply) !== 0) {
      const { error, errTips, logId, fix } = errNoError(app.appId, ENDPOINT, reply, secrets)
      if (fix) this.log.error({ appId: app.appId, endpoint: ENDPOINT, errNo: errNoOf(reply), errTips, logId }, fix)
      throw error
    }
    if (status < 200 || status > 299) throw new UpstreamError(`${ENDPOINT} answered HTTP ${status}`)
    const data = reply.data
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new UpstreamError(`${ENDPOINT} answered without data`)
    return sessionOf(app.appId, data as JsonReply, { code, anonymousCode })
  }

  openForSession (session: Session, encryptedData: string, iv: string): Promise<{ data: Record<string, unknown>, sessionKey: string }> {
    return this.openData.open(session, encryptedData, iv)
  }

  userInfo (session: Session, payload: UserInfoPayload): Promise<Record<string, unknown>> {
    return this.openData.userInfo(session, payload)
  }

  phoneNumber (session: Session, payload: EncryptedPayload | { code: string }): Promise<PhoneNumber> {
    return 'code' in payload ? this.phoneCodes.phoneNumber(session.appId, payload.code) : this.openData.phoneNumber(session, payload)
  }

  async close (): Promise<void> {
    await Promise.all([this.http.close(), this.phoneCodes.close()])
  }

  /** A login needs a code, or an anonymousCode where the app accepts anonymous logins. */
  #accept (app: DouyinApp, { code, anonymousCode }: Required<DouyinCodes>): void {
    if (code) return
    if (!anonymousCode) throw new CodeInvalidError('neither a code nor an anonymousCode')
    if (!app.anonymousLogin) throw new AnonymousLoginRefusedError()
  }
}

/** The fields each code asked for: Douyin sends the others empty, or not at all. */
function sessionOf (appId: string, data: JsonReply, { code, anonymousCode }: Required<DouyinCodes>): DouyinSession {
  const session: DouyinSession = { appId }
  if (code) {
    session.openId = stringField(data, 'openid', ENDPOINT)
    session.sessionKey = sessionKeyField(data, ENDPOINT)
    if (typeof data.unionid === 'string' && data.unionid !== '') session.unionId = data.unionid
  }
  if (anonymousCode) session.anonymousOpenId = stringField(data, 'anonymous_openid', ENDPOINT)
  return session
}
