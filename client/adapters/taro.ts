import { call, lookup, type Callbacks, type PlatformAdapter } from '../platform.js'
import { frameworkAdapter, noMiniprogramLogin, type FrameworkLoginResult, type FrameworkTarget } from './frameworks.js'
import type { WxStyleApi } from './wx-style.js'

/** The part of Taro (the default export of @tarojs/taro) the helper uses. */
export interface TaroApi extends WxStyleApi<string | object> {
  /** On a mini-program build, the host's login; on Alipay, my.getAuthCode with scopes 'auth_base' whatever is asked (Taro's Alipay runtime sets it). */
  login: (options: Callbacks<FrameworkLoginResult> & { force?: boolean }) => unknown
  /** The build target: 'WEAPP', 'ALIPAY', 'TT', 'QQ', 'WEB', 'RN'… */
  getEnv: () => string
}

// Taro.login documents no Baidu (SWAN) support.
const TARO_TARGETS: Record<string, FrameworkTarget> = { WEAPP: 'wechat', ALIPAY: 'alipay', TT: 'douyin', QQ: 'qq' }

/**
 * The adapter for a Taro project: `createAuthClient({ baseUrl, platform: taroAdapter(Taro) })`.
 * The platform is the build target's; a build with no mini-program login (H5, React Native, Harmony) throws a TypeError.
 */
export function taroAdapter (taro: TaroApi): PlatformAdapter {
  const env = taro.getEnv()
  const target = lookup(TARO_TARGETS, env)
  if (!target) throw noMiniprogramLogin('Taro', env)
  return frameworkAdapter('Taro', target, taro, async ({ scope, force }) => {
    if (target === 'alipay' && scope !== 'auth_base') {
      throw new TypeError(`Taro.login on Alipay asks only auth_base (Taro's Alipay runtime sets its scopes): for ${scope}, use platform 'alipay' with my`)
    }
    return call((callbacks) => taro.login({ ...callbacks, ...(target === 'douyin' ? { force } : {}) }))
  })
}
