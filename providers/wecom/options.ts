import { httpAppsOf, type HttpAppConfig, type HttpAppOptions, type HttpPlatform } from '../common/app-options.js'

/**
 * A WeCom mini-program: `appId` is its AppID (wx…), which a login body
 * names; `appSecret` the Secret of the WeCom app it is associated with (not
 * the mini-program's AppSecret); `baseUrl` defaults to 'https://qyapi.weixin.qq.com'.
 */
export interface WecomAppOptions extends HttpAppOptions {
  /** The corp's ID (ww…), from WeCom's admin console: its access token is asked for with it. */
  corpId: string
}

export interface WecomAppConfig extends HttpAppConfig {
  corpId: string
}

const WECOM: HttpPlatform = { option: 'wecom', defaultBaseUrl: 'https://qyapi.weixin.qq.com', exampleAppId: 'wx0123456789abcdef' }

/** Validates the `wecom` option (one app or several); messages name the option. */
export function wecomAppsOf (apps: WecomAppOptions | WecomAppOptions[] | undefined): WecomAppConfig[] {
  return httpAppsOf(apps, WECOM, ({ corpId }, name) => {
    if (typeof corpId !== 'string' || !/^[A-Za-z0-9]{1,64}$/.test(corpId)) {
      throw new TypeError(`${name('corpId')} must be the corp's ID from WeCom's admin console, such as 'ww0123456789abcdef' (got ${JSON.stringify(corpId)})`)
    }
    return { corpId }
  })
}
