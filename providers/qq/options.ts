import { httpAppsOf, type HttpAppConfig, type HttpAppOptions } from '../common/app-options.js'

/** A QQ mini-program: its AppID (digits) and AppSecret; `baseUrl` defaults to 'https://api.q.qq.com'. */
export type QqAppOptions = HttpAppOptions

/** Validates the `qq` option (one app or several); messages name the option. */
export function qqAppsOf (apps: QqAppOptions | QqAppOptions[] | undefined): HttpAppConfig[] {
  return httpAppsOf(apps, { option: 'qq', defaultBaseUrl: 'https://api.q.qq.com', exampleAppId: '1110000000' })
}
