import { httpAppsOf, type HttpAppConfig, type HttpAppOptions } from '../common/app-options.js'

/** A Kuaishou mini-program: its app_id (ks…) and app_secret; `baseUrl` defaults to 'https://open.kuaishou.com'. */
export type KuaishouAppOptions = HttpAppOptions

/** Validates the `kuaishou` option (one app or several); messages name the option. */
export function kuaishouAppsOf (apps: KuaishouAppOptions | KuaishouAppOptions[] | undefined): HttpAppConfig[] {
  return httpAppsOf(apps, { option: 'kuaishou', defaultBaseUrl: 'https://open.kuaishou.com', exampleAppId: 'ks671234567890123456' })
}
