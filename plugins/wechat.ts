import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { wechatAppsOf, type WechatAppOptions } from '../providers/wechat/options.js'
import { WechatProvider, type WechatClient } from '../providers/wechat/provider.js'
import { WechatSessionKeyRecords } from '../store/wechat-session-keys.js'
import { WechatTokenRecords } from '../store/wechat-tokens.js'
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
const wechatPlugin: FastifyPluginAsync<WechatPluginOptions> = async (fastify, options) => {
  const configs = wechatAppsOf(options?.apps)
  const gateway = fastify[kGateway]
  // The latest session_key outlives every session of its openid: none lives longer than maxAge.
  const sessionKeys = new WechatSessionKeyRecords(gateway, fastify.sessions.maxAgeMs)
  const wechat = new WechatProvider(configs, new WechatTokenRecords(gateway), sessionKeys, fastify.log.child({ plugin: 'mpa-wechat' }))
  fastify.addHook('onClose', () => wechat.close())
  fastify.miniprogramLogin.addProvider(wechat)
  fastify.decorate('wechat', wechat)
}

export default fp(wechatPlugin, {
  name: 'mpa-wechat',
  fastify: '5.x',
  dependencies: ['mpa-sessions', 'mpa-login']
})
