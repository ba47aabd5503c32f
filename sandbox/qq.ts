import { createWechatSandbox, type WechatSandbox, type WechatSandboxOptions } from './wechat.js'

// QQ's login endpoints are WeChat's (sns/jscode2session, the same errcodes,
// the same encrypted user data), at api.q.qq.com: the WeChat sandbox plays
// QQ. Its other endpoints (access tokens, phone codes) have no QQ counterpart
// in this package.

export type QqSandbox = WechatSandbox
export type QqSandboxOptions = WechatSandboxOptions

/** A local stand-in for api.q.qq.com's jscode2session: pass its url as the qq baseUrl. */
export function createQqSandbox (options: QqSandboxOptions = {}): Promise<QqSandbox> {
  return createWechatSandbox(options)
}
