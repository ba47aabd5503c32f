import type { FastifyBaseLogger } from 'fastify'
import { MisconfiguredError } from '../../errors.js'
import type { Exchange, ExchangeContext, Identity, LoginProvider } from '../../types.js'
import { AppsProvider } from '../common/apps-provider.js'
import { ErrcodeHttp, type ErrcodeApp } from '../common/errcode-http.js'
import { errcodeOf, WECHAT } from '../common/errcodes.js'
import { stringField, type JsonReply } from '../common/json-http.js'
import type { OAuthSurface, WechatOAuthAppConfig } from './options.js'

// The scopes whose access token may read sns/userinfo (snsapi_base's may not: errcode 48001).
const PROFILE_SCOPES = new Set(['snsapi_userinfo', 'snsapi_login'])
const PROFILE_FIELDS = ['nickname', 'sex', 'province', 'city', 'country', 'headimgurl'] as const

export interface WechatOAuthClient extends LoginProvider {
  /** The consent page to send a browser to, with this state (the browser surfaces only). */
  authorizeUrl: (appId: string, state: string) => string
}

/**
 * WeChat's OAuth 2.0 login outside mini-programs (网页授权, 网站应用, 移动应用):
 * the code at sns/oauth2/access_token, then sns/userinfo where the scope
 * allows, for the openid, the unionid and the profile.
 */
export class WechatOAuthProvider extends AppsProvider<ErrcodeApp & WechatOAuthAppConfig> implements WechatOAuthClient {
  readonly name: OAuthSurface['name']
  private readonly http: ErrcodeHttp

  constructor (private readonly surface: OAuthSurface, configs: WechatOAuthAppConfig[], log: FastifyBaseLogger) {
    const http = new ErrcodeHttp(configs, log, { label: WECHAT.label, option: surface.option })
    super(http.apps)
    this.http = http
    this.name = surface.name
  }

  /** Two calls, each with its busy retry. */
  exchangeBudgetMs (appId: string): number {
    return 2 * this.http.budgetMs(this.apps.get(appId))
  }

  authorizeUrl (appId: string, state: string): string {
    const { page } = this.apps.get(appId)
    if (page === undefined) throw new MisconfiguredError(`${this.name} has no consent page`)
    const query = new URLSearchParams({ appid: appId, redirect_uri: page.callbackUrl, response_type: 'code', scope: page.scope, state })
    // WeChat's documented form: the parameters in this order, then #wechat_redirect.
    return `${page.url}?${query}#wechat_redirect`
  }

  async exchange (code: string, { appId }: ExchangeContext): Promise<Exchange> {
    const app = this.apps.get(appId)
    const token = await this.#call(app, 'sns/oauth2/access_token', { appid: app.appId, secret: app.appSecret, code, grant_type: 'authorization_code' })
    const endpoint = 'sns/oauth2/access_token'
    const openId = stringField(token, 'openid', endpoint)
    const accessToken = stringField(token, 'access_token', endpoint)
    const scope = typeof token.scope === 'string' ? token.scope : ''
    // A failed sns/userinfo fails the login: its unionid may be what joins this user to their account.
    const profile = scope.split(',').some((granted) => PROFILE_SCOPES.has(granted))
      ? await this.#call(app, 'sns/userinfo', { access_token: accessToken, openid: openId, lang: 'zh_CN' }, [accessToken])
      : undefined
    const unionId = [token.unionid, profile?.unionid].find((value): value is string => typeof value === 'string' && value !== '')
    const identity: Identity = {
      provider: this.name,
      surface: this.surface.surface,
      appId,
      openId,
      ...(unionId === undefined ? {} : { unionId }),
      ...(profile === undefined ? {} : { profile: Object.fromEntries(PROFILE_FIELDS.filter((field) => field in profile).map((field) => [field, profile[field]])) })
    }
    const refreshToken = typeof token.refresh_token === 'string' ? token.refresh_token : undefined
    return { identity, secrets: { accessToken, ...(refreshToken === undefined ? {} : { refreshToken }) } }
  }

  async #call (app: ErrcodeApp, endpoint: string, query: Record<string, string>, more: string[] = []): Promise<JsonReply> {
    const secrets = [app.appSecret, ...more]
    const reply = await this.http.request(app, endpoint, { method: 'GET', query, secrets })
    if (errcodeOf(reply) !== 0) throw this.http.fail(app, endpoint, reply, secrets)
    return reply
  }

  close (): Promise<void> {
    return this.http.close()
  }
}
