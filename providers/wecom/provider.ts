import type { FastifyBaseLogger } from 'fastify'
import { CodeBlockedError, MisconfiguredError, UpstreamError } from '../../errors.js'
import type { PlatformTokenRecords } from '../../store/platform-tokens.js'
import type { Exchange, ExchangeContext, LoginProvider } from '../../types.js'
import { AppsProvider } from '../common/apps-provider.js'
import { ErrcodeHttp, type ErrcodeApp, type ErrcodeCall } from '../common/errcode-http.js'
import { errcodeOf, type Platform } from '../common/errcodes.js'
import { sessionKeyField, stringField, type JsonReply } from '../common/json-http.js'
import { SharedTokens, type TokenGrant } from '../common/shared-token.js'
import type { WecomAppConfig } from './options.js'

/** What a wx.qy.login code gives: the corp user, and the session_key. */
export interface WecomSession {
  appId: string
  corpId: string
  /** The user's UserID in the corp. */
  userId: string
  /** Server-side secret: keep it in the session, never send it to the client. */
  sessionKey: string
}

export interface WecomClient {
  /** Configured AppIDs; the first is the default. */
  readonly appIds: readonly string[]
  /** The AppID a request names, or the default one; MPA_UNKNOWN_APP when it is not configured. */
  resolveAppId: (appId?: string) => string
  /** miniprogram/jscode2session with the corp's access token: a wx.qy.login code for the corp user and session_key. */
  code2Session: (code: string, appId?: string) => Promise<WecomSession>
}

const WECOM: Platform = { label: 'WeCom', option: 'wecom' }
const GET_TOKEN = 'cgi-bin/gettoken'
const JSCODE2SESSION = 'cgi-bin/miniprogram/jscode2session'
// WeCom's global errcodes: the token was refused (invalid, expired) and is replaced once.
const STALE_TOKEN = new Set([40014, 42001])
// Errcodes that mean the app's setup is wrong, not the request. WeCom's 40001 is
// a bad secret (WeChat's is a bad token), hence a table of its own.
const MISCONFIGURED = new Map([
  [40001, 'invalid secret (the Secret of the WeCom app the mini-program is associated with)'],
  [40013, 'invalid corpid'],
  [60020, 'the server IP is not in the WeCom app\'s trusted IPs']
])

type WecomApp = ErrcodeApp & WecomAppConfig

/**
 * WeCom (企业微信): wx.qy.login's code, exchanged with the corp's access
 * token, which every instance shares (gettoken, one instance at a time). The
 * identity is the corp user: corpId and their UserID.
 */
export class WecomProvider extends AppsProvider<WecomApp> implements LoginProvider, WecomClient {
  readonly name = 'wecom'
  private readonly http: ErrcodeHttp
  private readonly tokens: SharedTokens<WecomApp>

  constructor (configs: WecomAppConfig[], records: PlatformTokenRecords, private readonly log: FastifyBaseLogger) {
    const http = new ErrcodeHttp(configs, log, WECOM)
    super(http.apps as WecomApp[])
    this.http = http
    this.tokens = new SharedTokens(records, {
      label: GET_TOKEN,
      keyOf: (app) => `${app.corpId}:${app.appId}`,
      budgetMs: (app) => this.http.budgetMs(app),
      grant: (app) => this.grant(app)
    })
  }

  /** A token (a grant, or a wait for another instance's), then jscode2session, twice when the token was refused. */
  exchangeBudgetMs (appId: string): number {
    return this.http.budgetMs(this.apps.get(appId)) * 4 + 1000
  }

  async exchange (code: string, { appId }: ExchangeContext): Promise<Exchange> {
    const { corpId, userId, sessionKey } = await this.code2Session(code, appId)
    return { identity: { provider: 'wecom', surface: 'miniprogram', appId, openId: `${corpId}:${userId}`, corpId, corpUserId: userId }, secrets: { sessionKey } }
  }

  async code2Session (code: string, appId?: string): Promise<WecomSession> {
    const app = this.apps.get(appId)
    const reply = await this.withToken(app, JSCODE2SESSION, (token) => ({
      method: 'GET',
      query: { access_token: token, js_code: code, grant_type: 'authorization_code' },
      secrets: [token, app.appSecret]
    }))
    const corpId = stringField(reply, 'corpid', JSCODE2SESSION)
    // WeCom's docs: a user of another corp logs in again with that corp's token; this app has no other.
    if (corpId !== app.corpId) throw new CodeBlockedError(`the user belongs to another corp than app ${app.appId}'s`)
    return { appId: app.appId, corpId, userId: stringField(reply, 'userid', JSCODE2SESSION), sessionKey: sessionKeyField(reply, JSCODE2SESSION) }
  }

  close (): Promise<void> {
    return this.http.close()
  }

  /** A call with the corp's access token; a token WeCom refuses is replaced once and the call made again. */
  private async withToken (app: WecomApp, endpoint: string, build: (token: string) => ErrcodeCall): Promise<JsonReply> {
    let refused: string | undefined
    for (let attempt = 1; ; attempt++) {
      const token = await this.tokens.tokenFor(app, refused)
      const call = build(token)
      const reply = await this.http.request(app, endpoint, call)
      if (attempt === 1 && STALE_TOKEN.has(errcodeOf(reply))) {
        this.log.info({ appId: app.appId, endpoint, errcode: errcodeOf(reply) }, 'WeCom refused the access token: fetching another')
        refused = token
        continue
      }
      if (errcodeOf(reply) !== 0) throw this.fail(app, endpoint, reply, call.secrets)
      return reply
    }
  }

  private async grant (app: WecomApp): Promise<TokenGrant> {
    const secrets = [app.appSecret]
    const reply = await this.http.request(app, GET_TOKEN, { method: 'GET', query: { corpid: app.corpId, corpsecret: app.appSecret }, secrets })
    if (errcodeOf(reply) !== 0) throw this.fail(app, GET_TOKEN, reply, secrets)
    const token = stringField(reply, 'access_token', GET_TOKEN)
    const lifetimeMs = Number(reply.expires_in) * 1000
    if (!(lifetimeMs > 0)) throw new UpstreamError(`${GET_TOKEN} answered without a valid expires_in`)
    return { token, lifetimeMs }
  }

  /** WeCom's own misconfiguration errcodes first, then those it shares with WeChat. */
  private fail (app: WecomApp, endpoint: string, reply: JsonReply, secrets: string[]): Error {
    const problem = MISCONFIGURED.get(errcodeOf(reply))
    if (!problem) return this.http.fail(app, endpoint, reply, secrets)
    this.log.error({ appId: app.appId, endpoint, errcode: errcodeOf(reply) }, `WeCom refused app ${app.appId} (corp ${app.corpId}): ${problem}; check the wecom corpId/appSecret options and the WeCom app's trusted IPs`)
    return new MisconfiguredError(`WeCom refused app ${app.appId} (${endpoint} errcode ${errcodeOf(reply)}); the server log says what to fix`)
  }
}
