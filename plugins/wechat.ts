import { wechatAppsOf, type WechatAppOptions } from '../providers/wechat/options.js'
import { WechatProvider, type WechatClient } from '../providers/wechat/provider.js'
import { latestSessionKeys } from './session-keys.js'
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
  const tokens = new WechatTokenRecords(fastify[kGateway])
  return new WechatProvider(wechatAppsOf(options?.apps), tokens, latestSessionKeys(fastify, 'wechat'), fastify.log.child({ plugin: 'mpa-wechat' }))
})
