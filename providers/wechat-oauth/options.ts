import { httpAppsOf, httpTargetOf, type HttpAppConfig, type HttpAppOptions } from '../common/app-options.js'
import type { Surface } from '../../types.js'

/** One of WeChat's OAuth surfaces outside mini-programs. */
export interface OAuthSurface {
  /** The provider name, in routes and sessions: 'wechat-oa', 'wechat-web', 'wechat-app'. */
  name: 'wechat-oa' | 'wechat-web' | 'wechat-app'
  /** The umbrella's option. */
  option: 'wechatOa' | 'wechatWeb' | 'wechatApp'
  surface: Surface
  /** The consent page on open.weixin.qq.com (none for the app: the SDK asks); the scopes an app may ask there. */
  page?: { path: string, scopes: readonly string[], defaultScope: string }
}

export const OA: OAuthSurface = {
  name: 'wechat-oa',
  option: 'wechatOa',
  surface: 'oa',
  page: { path: '/connect/oauth2/authorize', scopes: ['snsapi_base', 'snsapi_userinfo'], defaultScope: 'snsapi_userinfo' }
}
export const WEBSITE: OAuthSurface = {
  name: 'wechat-web',
  option: 'wechatWeb',
  surface: 'web',
  page: { path: '/connect/qrconnect', scopes: ['snsapi_login'], defaultScope: 'snsapi_login' }
}
export const MOBILE_APP: OAuthSurface = { name: 'wechat-app', option: 'wechatApp', surface: 'app' }

/** An official account (网页授权), a website application (网站应用) or a mobile application (移动应用). */
export interface WechatOAuthAppOptions extends HttpAppOptions {
  /**
   * The browser surfaces: our callback's absolute URL (`https://api.example.com/auth/wechat-oa/callback`),
   * on the 授权回调域 set in WeChat's console. WeChat sends the browser back there.
   */
  callbackUrl?: string
  /** The official account: 'snsapi_userinfo' (default: consent, profile and unionid) or 'snsapi_base' (silent, openid). */
  scope?: 'snsapi_base' | 'snsapi_userinfo'
  /** Where the consent page is. Default 'https://open.weixin.qq.com'; the sandbox in tests. */
  authorizeUrl?: string
}

export interface WechatOAuthAppConfig extends HttpAppConfig {
  /** The consent page's URL up to its path, and the callback: absent for the app. */
  page?: { url: string, callbackUrl: string, scope: string }
}

/** Validates a surface's option (one app or several); messages name the option. */
export function wechatOAuthAppsOf (apps: WechatOAuthAppOptions | WechatOAuthAppOptions[] | undefined, { option, page }: OAuthSurface): WechatOAuthAppConfig[] {
  return httpAppsOf(apps, { option, defaultBaseUrl: 'https://api.weixin.qq.com', exampleAppId: 'wx0123456789abcdef' }, (entry, name) => {
    const { callbackUrl, scope, authorizeUrl } = entry
    if (page === undefined) {
      for (const [field, value] of [['callbackUrl', callbackUrl], ['scope', scope], ['authorizeUrl', authorizeUrl]] as const) {
        if (value !== undefined) throw new TypeError(`${name(field)} is for the browser logins (wechatOa, wechatWeb): a mobile app posts its code`)
      }
      return {}
    }
    const callback = typeof callbackUrl === 'string' ? URL.parse(callbackUrl) : null
    if (callback === null || (callback.protocol !== 'https:' && callback.protocol !== 'http:') || callback.username !== '' || callback.password !== '' || callback.hash !== '') {
      throw new TypeError(`${name('callbackUrl')} must be the absolute URL of our callback route, such as 'https://api.example.com/auth/${option === 'wechatOa' ? 'wechat-oa' : 'wechat-web'}/callback' (got ${JSON.stringify(callbackUrl)})`)
    }
    const chosen = scope ?? page.defaultScope
    if (!page.scopes.includes(chosen)) throw new TypeError(`${name('scope')} must be ${page.scopes.map((s) => `'${s}'`).join(' or ')} (got ${JSON.stringify(scope)})`)
    const { origin, pathPrefix } = httpTargetOf({ baseUrl: authorizeUrl }, 'https://open.weixin.qq.com', name, 'authorizeUrl')
    return { page: { url: origin + pathPrefix + page.path, callbackUrl: callback.href, scope: chosen } }
  })
}
