import { httpAppsOf, type HttpAppConfig, type HttpAppOptions, type HttpPlatform } from '../common/app-options.js'
import { phoneCodesOf, type PhoneCodeConfig } from './phone-code-options.js'

export interface DouyinAppOptions extends HttpAppOptions {
  /** The mini-program AppID (tt…). */
  appId: string
  /** Default 'https://developer.toutiao.com'; a proxy or the sandbox in tests. */
  baseUrl?: string
  /**
   * Whether a login may carry only tt.login's anonymousCode (a user not logged
   * in to Douyin or Toutiao): the session is then for the device's
   * anonymous_openid, and has no session_key. Default false: such a login is
   * refused with 403 MPA_ANONYMOUS_LOGIN_REFUSED.
   */
  anonymousLogin?: boolean
  /**
   * The app's RSA private key (PEM, PKCS#1 or PKCS#8) whose public key is set
   * in Douyin's console: it opens the phone number a getPhoneNumber code
   * gives. Without it, POST /douyin/phone takes only encrypted data.
   */
  phonePrivateKey?: string
  /** Where the client token and phone-code calls go. Default 'https://open.douyin.com'; the sandbox in tests. */
  openApiBaseUrl?: string
}

export interface DouyinAppConfig extends HttpAppConfig {
  anonymousLogin: boolean
  /** With a phonePrivateKey: the open API target and the key. */
  phoneCodes?: PhoneCodeConfig
}

const DOUYIN: HttpPlatform = { option: 'douyin', defaultBaseUrl: 'https://developer.toutiao.com', exampleAppId: 'tt0123456789abcdef01' }

/** Validates the `douyin` option (one app or several); messages name the option. */
export function douyinAppsOf (apps: DouyinAppOptions | DouyinAppOptions[] | undefined): DouyinAppConfig[] {
  return httpAppsOf(apps, DOUYIN, (entry, name) => {
    const { anonymousLogin } = entry
    if (anonymousLogin !== undefined && typeof anonymousLogin !== 'boolean') {
      throw new TypeError(`${name('anonymousLogin')} must be a boolean (got ${JSON.stringify(anonymousLogin)})`)
    }
    return { anonymousLogin: anonymousLogin ?? false, ...phoneCodesOf(entry, name) }
  })
}
