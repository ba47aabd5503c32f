import { wechatAppsOf, type WechatAppOptions } from '../providers/wechat/options.js'
import { WechatProvider, type WechatClient } from '../providers/wechat/provider.js'
import { WechatTokenRecords } from '../store/wechat-tokens.js'
import { providerPlugin } from './provider-plugin.js'

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
export default providerPlugin('wechat', (options: WechatPluginOptions, { gateway, secrets, latestSessionKeys, log }) =>
  new WechatProvider(wechatAppsOf(options?.apps), new WechatTokenRecords(gateway, secrets), latestSessionKeys(), log))
