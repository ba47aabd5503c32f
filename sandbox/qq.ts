import { wechatLikeSandbox, type WechatSandbox, type WechatSandboxOptions } from './wechat.js'

// QQ's login endpoint is WeChat's (sns/jscode2session, the same errcodes,
// the same encrypted user data), at api.q.qq.com: the WeChat sandbox's rules
// play QQ, at QQ's paths. QQ's access token is GET api/getToken (cgi-bin/token's
// parameters and answer); it has no stable_token and no phone-number endpoints.

const QQ_ROUTES = {
  '/sns/jscode2session': { endpoint: 'jscode2session', method: 'GET' },
  '/api/getToken': { endpoint: 'token', method: 'GET' }
} as const

export type QqSandbox = WechatSandbox
export type QqSandboxOptions = WechatSandboxOptions

/** A local stand-in for api.q.qq.com's jscode2session and getToken: pass its url as the qq baseUrl. */
export function createQqSandbox (options: QqSandboxOptions = {}): Promise<QqSandbox> {
  return wechatLikeSandbox('QQ sandbox', QQ_ROUTES, options)
}
