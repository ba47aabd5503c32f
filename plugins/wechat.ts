import { wechatAppsOf, type WechatAppOptions } from '../providers/wechat/options.js'
import { WechatProvider, type WechatClient } from '../providers/wechat/provider.js'
import { WechatSessionKeyRecords } from '../store/wechat-session-keys.js'
import { WechatTokenRecords } from '../store/wechat-tokens.js'
import { providerPlugin } from './provider-plugin.js'
import { kGateway } from './sessions.js'

export interface WechatPluginOptions {
  /** One app, or several served by one backend (the first is the default). */
  apps: WechatAppOptions | WechatAppOptions[]
}

declare module 'fastify' {
  interface FastifyInstance {
    wechat: WechatClient
  }
}

/** `fastify.wechat`, and WeChat logins in `fastify.miniprogramLogin`. */
export default providerPlugin('wechat', (fastify, options: WechatPluginOptions) => {
  const gateway = fastify[kGateway]
  // The latest session_key outlives every session of its openid: none lives longer than maxAge.
  const sessionKeys = new WechatSessionKeyRecords(gateway, fastify.sessions.maxAgeMs)
  return new WechatProvider(wechatAppsOf(options?.apps), new WechatTokenRecords(gateway), sessionKeys, fastify.log.child({ plugin: 'mpa-wechat' }))
})
