import { httpAppsOf, type HttpAppConfig, type HttpAppOptions } from '../common/app-options.js'

/** A WeChat mini-program: its AppID (wx…) and AppSecret; `baseUrl` defaults to 'https://api.weixin.qq.com'. */
export type WechatAppOptions = HttpAppOptions

/** Validates the `wechat` option (one app or several); messages name the option. */
export function wechatAppsOf (apps: WechatAppOptions | WechatAppOptions[] | undefined): HttpAppConfig[] {
  return httpAppsOf(apps, { option: 'wechat', defaultBaseUrl: 'https://api.weixin.qq.com', exampleAppId: 'wx0123456789abcdef' })
}
