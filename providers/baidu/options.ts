import { httpAppsOf, type HttpAppConfig, type HttpAppOptions } from '../common/app-options.js'

/**
 * A Baidu smart program: `appId` is its App Key (the client_id of Baidu's
 * API, which also ends its decrypted data), `appSecret` its App Secret (the
 * sk); `baseUrl` defaults to 'https://spapi.baidu.com'.
 */
export type BaiduAppOptions = HttpAppOptions

/** Validates the `baidu` option (one app or several); messages name the option. */
export function baiduAppsOf (apps: BaiduAppOptions | BaiduAppOptions[] | undefined): HttpAppConfig[] {
  return httpAppsOf(apps, { option: 'baidu', defaultBaseUrl: 'https://spapi.baidu.com', exampleAppId: '4fecoAqgCIUtzIyA4FAPgoyrc4oUc25c' })
}
