import { appOptionsOf } from '../../lib/apps.js'
import { parseDuration } from '../../lib/duration.js'

export interface WechatAppOptions {
  /** The mini-program AppID (wx…). */
  appId: string
  /** Its AppSecret. Never logged, never sent anywhere but WeChat. */
  appSecret: string
  /** Default 'https://api.weixin.qq.com'; a proxy or the sandbox in tests. */
  baseUrl?: string
  /** Longest wait for one WeChat call: seconds or a string like '800ms'. Default '5s'. */
  timeout?: number | string
}

/** One app's options, checked, with its base URL split for the connection pool. */
export interface WechatAppConfig {
  appId: string
  appSecret: string
  origin: string
  pathPrefix: string
  timeoutMs: number
}

const DEFAULT_BASE_URL = 'https://api.weixin.qq.com'

/** Validates the `wechat` option (one app or several); messages name the option. */
export function wechatAppsOf (apps: WechatAppOptions | WechatAppOptions[] | undefined): WechatAppConfig[] {
  return appOptionsOf(apps, 'wechat').map(({ options: entry, name: option }) => {
    const name = (field: string) => `${option}.${field}`
    const { appId, appSecret, baseUrl, timeout } = entry as Partial<WechatAppOptions>
    if (typeof appId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(appId)) {
      throw new TypeError(`${name('appId')} must be the mini-program AppID, such as 'wx0123456789abcdef' (got ${JSON.stringify(appId)})`)
    }
    // The value is never echoed: it is a secret.
    if (typeof appSecret !== 'string' || !/^\S{1,128}$/.test(appSecret)) {
      throw new TypeError(`${name('appSecret')} must be the AppSecret from the mini-program console (a non-empty string without spaces)`)
    }
    let url: URL
    try {
      url = new URL(baseUrl ?? DEFAULT_BASE_URL)
    } catch {
      throw new TypeError(`${name('baseUrl')} must be an http(s) URL (got ${JSON.stringify(baseUrl)})`)
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash || url.username || url.password) {
      throw new TypeError(`${name('baseUrl')} must be an http(s) URL without query, fragment or credentials (got ${JSON.stringify(baseUrl)})`)
    }
    const timeoutMs = parseDuration(timeout ?? '5s', name('timeout'))
    return { appId, appSecret, origin: url.origin, pathPrefix: url.pathname.replace(/\/+$/, ''), timeoutMs }
  })
}
