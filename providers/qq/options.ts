import { httpAppsOf, type HttpAppConfig, type HttpAppOptions, type HttpPlatform } from '../common/app-options.js'

export interface QqAppOptions extends HttpAppOptions {
  /** The mini-program AppID (digits). */
  appId: string
  /** Default 'https://api.q.qq.com'; a proxy or the sandbox in tests. */
  baseUrl?: string
}

const QQ: HttpPlatform = { option: 'qq', defaultBaseUrl: 'https://api.q.qq.com', exampleAppId: '1110000000' }

/** Validates the `qq` option (one app or several); messages name the option. */
export function qqAppsOf (apps: QqAppOptions | QqAppOptions[] | undefined): HttpAppConfig[] {
  return httpAppsOf(apps, QQ)
}
