import { appOptionsOf } from '../../lib/apps.js'
import { parseDuration } from '../../lib/duration.js'
import type { HttpTarget } from './json-http.js'

/** What every app of a platform called over HTTP with an AppID and an AppSecret is configured with. */
export interface HttpAppOptions {
  /** The mini-program's AppID. */
  appId: string
  /** Its AppSecret. Never logged, never sent anywhere but the platform. */
  appSecret: string
  /** The platform's base URL by default; a proxy, or the sandbox in tests. */
  baseUrl?: string
  /** Longest wait for one platform call: seconds or a string like '800ms'. Default '5s'. */
  timeout?: number | string
}

/** One app's options, checked, with its base URL split for the connection pool. */
export interface HttpAppConfig extends HttpTarget {
  appId: string
  appSecret: string
}

/** The platform an option configures: its option name, default base URL and an AppID to quote as an example. */
export interface HttpPlatform {
  option: string
  defaultBaseUrl: string
  exampleAppId: string
}

/**
 * Validates a platform option (one app or several); messages name the
 * option. `more` checks and adds what the platform's apps have besides.
 */
export function httpAppsOf<Options extends HttpAppOptions, Extra extends object = object> (
  apps: Options | Options[] | undefined,
  { option: platformOption, defaultBaseUrl, exampleAppId }: HttpPlatform,
  more: (entry: Partial<Options>, name: (field: string) => string) => Extra = () => ({}) as Extra
): Array<HttpAppConfig & Extra> {
  return appOptionsOf(apps, platformOption).map(({ options: entry, name: option }) => {
    const name = (field: string) => `${option}.${field}`
    const { appId, appSecret, baseUrl, timeout } = entry as Partial<Options>
    if (typeof appId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(appId)) {
      throw new TypeError(`${name('appId')} must be the mini-program AppID, such as '${exampleAppId}' (got ${JSON.stringify(appId)})`)
    }
    // The value is never echoed: it is a secret.
    if (typeof appSecret !== 'string' || !/^\S{1,128}$/.test(appSecret)) {
      throw new TypeError(`${name('appSecret')} must be the AppSecret from the mini-program console (a non-empty string without spaces)`)
    }
    return { appId, appSecret, ...httpTargetOf({ baseUrl, timeout }, defaultBaseUrl, name), ...more(entry, name) }
  })
}

/** A base URL and timeout option, checked (`baseField` names the URL's option), split for the connection pool. */
export function httpTargetOf ({ baseUrl, timeout }: { baseUrl?: unknown, timeout?: unknown }, defaultBaseUrl: string, name: (field: string) => string, baseField = 'baseUrl'): HttpTarget {
  let url: URL
  try {
    url = new URL((baseUrl ?? defaultBaseUrl))
  } catch {
    throw new TypeError(`${name(baseField)} must be an http(s) URL (got ${JSON.stringify(baseUrl)})`)
  }
  if (url.username || url.password) {
    // Not repeated: the credentials would land in the boot error and its logs.
    throw new TypeError(`${name(baseField)} must be an http(s) URL without credentials`)
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash) {
    throw new TypeError(`${name(baseField)} must be an http(s) URL without query, fragment or credentials (got ${JSON.stringify(baseUrl)})`)
  }
  return { origin: url.origin, pathPrefix: url.pathname.replace(/\/+$/, ''), timeoutMs: parseDuration((timeout ?? '5s'), name('timeout')) }
}
