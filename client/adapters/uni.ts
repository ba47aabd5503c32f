import { call, lookup, type Callbacks, type PlatformAdapter } from '../platform.js'
import type { AlipayScope } from '../types.js'
import { frameworkAdapter, noMiniprogramLogin, type FrameworkLoginResult, type FrameworkTarget } from './frameworks.js'
import type { WxStyleApi } from './wx-style.js'

/** The part of `uni` the helper uses. */
export interface UniApi extends WxStyleApi<string | object> {
  /** On a mini-program build, the host's login: my.getAuthCode on Alipay (its authCode as `code`, `scopes` passed on), tt.login on Douyin. */
  login: (options: Callbacks<FrameworkLoginResult> & { scopes?: AlipayScope }) => unknown
  /** `uniPlatform` names the build target: 'mp-weixin', 'mp-alipay', 'web', 'app'… */
  getSystemInfoSync: () => { uniPlatform?: string }
}

const UNI_TARGETS: Record<string, FrameworkTarget> = {
  'mp-weixin': 'wechat',
  'mp-alipay': 'alipay',
  // uni-app's target for Douyin (and Toutiao).
  'mp-toutiao': 'douyin',
  'mp-qq': 'qq',
  'mp-baidu': 'baidu',
  'mp-kuaishou': 'kuaishou'
}

/**
 * The adapter for a uni-app project: `createAuthClient({ baseUrl, platform: uniAdapter(uni) })`.
 * The platform is the build target's; a build with no mini-program login (H5, App) throws a TypeError.
 */
export function uniAdapter (uni: UniApi): PlatformAdapter {
  const { uniPlatform } = uni.getSystemInfoSync()
  const target = lookup(UNI_TARGETS, uniPlatform)
  if (!target) throw noMiniprogramLogin('uni-app', uniPlatform)
  // No `provider`: it picks among an App build's login services; a mini-program build has its host's only.
  return frameworkAdapter('uni', target, uni, ({ scope }) => call((callbacks) => uni.login({ ...callbacks, ...(target === 'alipay' ? { scopes: scope } : {}) })))
}
