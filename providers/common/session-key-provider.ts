import type { FastifyBaseLogger } from 'fastify'
import { UpstreamError } from '../../errors.js'
import { observeUpstream } from '../../lib/diagnostics.js'
import type { PhoneNumber } from '../../lib/open-data.js'
import type { Exchange, ExchangeContext, LoginProvider, Provider, Session } from '../../types.js'
import type { HttpAppConfig } from './app-options.js'
import { AppsProvider } from './apps-provider.js'
import type { Platform } from './errcodes.js'
import { JsonHttp, type JsonCall, type JsonReply } from './json-http.js'
import { refusalError, type PlatformRefusal } from './platform-errors.js'
import type { EncryptedPayload, SessionOpenData, UserInfoPayload } from './session-data.js'

/** What a login code gives on the platforms of this kind. */
export interface SessionKeyLogin {
  appId: string
  openId: string
  /** Server-side secret: keep it in the session, never send it to the client. */
  sessionKey: string
}

/**
 * `fastify.kuaishou` and `fastify.baidu`: the apps (`appIds`, the first the
 * default; `resolveAppId` answers 400 MPA_UNKNOWN_APP for another), the
 * login exchange, and the open data of a session, opened with the openid's
 * latest session_key, else the session's own.
 */
export interface SessionKeyClient extends Pick<LoginProvider, 'resolveAppId'> {
  readonly appIds: readonly string[]
  code2Session: (code: string, appId?: string) => Promise<SessionKeyLogin>
  openForSession: (session: Session, encryptedData: string, iv: string) => Promise<{ data: Record<string, unknown>, sessionKey: string }>
  /** With rawData and signature, the signature is checked too. */
  userInfo: (session: Session, payload: UserInfoPayload) => Promise<Record<string, unknown>>
  /** From the getPhoneNumber button's encrypted data. */
  phoneNumber: (session: Session, payload: EncryptedPayload) => Promise<PhoneNumber>
}

type HttpApp = JsonHttp<HttpAppConfig>['apps'][number]

/** An upstream call and the values its answer may echo. */
export interface PlatformCall extends JsonCall {
  secrets: string[]
}

/**
 * A login provider for a platform that answers its login code with an openid
 * and a session_key, in one call with no retry; the session_key becomes the
 * openid's latest, and seals the open data of the sessions it starts. A
 * platform's subclass says how to ask and what its answers mean.
 */
export abstract class SessionKeyProvider extends AppsProvider<HttpApp> implements LoginProvider, SessionKeyClient {
  readonly openForSession: SessionKeyClient['openForSession']
  readonly userInfo: SessionKeyClient['userInfo']
  readonly phoneNumber: SessionKeyClient['phoneNumber']
  private readonly http: JsonHttp<HttpAppConfig>

  constructor (
    readonly name: Provider,
    private readonly platform: Platform,
    configs: HttpAppConfig[],
    private readonly openData: SessionOpenData,
    private readonly log: FastifyBaseLogger
  ) {
    const http = new JsonHttp(configs)
    super(http.apps)
    this.http = http
    // The open data of the sessions its logins start.
    this.openForSession = (session, encryptedData, iv) => openData.open(session, encryptedData, iv)
    this.userInfo = (session, payload) => openData.userInfo(session, payload)
    this.phoneNumber = (session, payload) => openData.phoneNumber(session, payload)
  }

  abstract code2Session (code: string, appId?: string): Promise<SessionKeyLogin>

  /** One call, no retry: these platforms document no busy answer worth one. */
  exchangeBudgetMs (appId: string): number {
    return this.apps.get(appId).timeoutMs
  }

  async exchange (code: string, { appId, log }: ExchangeContext): Promise<Exchange> {
    const { openId, sessionKey } = await this.code2Session(code, appId)
    this.openData.remember(appId, openId, sessionKey, log)
    return { identity: { provider: this.name, surface: 'miniprogram', appId, openId }, secrets: { sessionKey } }
  }

  close (): Promise<void> {
    return this.http.close()
  }

  /**
   * One upstream call, observed: a refusal (as `refusalOf` reads the answer)
   * becomes our error, with what to fix in the log; any other answer that is
   * not a 2xx is a 502.
   */
  protected async call (app: HttpApp, endpoint: string, call: PlatformCall, refusalOf: (reply: JsonReply) => PlatformRefusal | undefined): Promise<JsonReply> {
    const refusedWith = ({ reply }: { reply: JsonReply }) => refusalOf(reply)?.code
    const { status, reply } = await observeUpstream({ provider: this.name, operation: endpoint, appId: app.appId }, () => this.http.fetchJson(app, endpoint, call), refusedWith)
    const refusal = refusalOf(reply)
    if (refusal) {
      const { error, fix } = refusalError(this.platform, app.appId, endpoint, refusal, call.secrets)
      if (fix) this.log.error({ appId: app.appId, endpoint, code: refusal.code }, fix)
      throw error
    }
    if (status < 200 || status > 299) throw new UpstreamError(`${endpoint} answered HTTP ${status}`)
    return reply
  }
}
