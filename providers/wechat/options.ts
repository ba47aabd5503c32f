import { httpAppsOf, type HttpAppConfig, type HttpAppOptions, type HttpPlatform } from '../common/app-options.js'

export interface WechatAppOptions extends HttpAppOptions {
  /** The mini-program AppID (wx…). */
  appId: string
  /** Default 'https://api.weixin.qq.com'; a proxy or the sandbox in tests. */
  baseUrl?: string
}

/** One app's options, checked, with its base URL split for the connection pool. */
export type WechatAppConfig = HttpAppConfig

const WECHAT: HttpPlatform = { option: 'wechat', defaultBaseUrl: 'https://api.weixin.qq.com', exampleAppId: 'wx0123456789abcdef' }

/** Validates the `wechat` option (one app or several); messages name the option. */
export function wechatAppsOf (apps: WechatAppOptions | WechatAppOptions[] | undefined): WechatAppConfig[] {
  return httpAppsOf(apps, WECHAT)
}
