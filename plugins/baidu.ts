import { baiduAppsOf, type BaiduAppOptions } from '../providers/baidu/options.js'
import { BaiduProvider, type BaiduClient } from '../providers/baidu/provider.js'
import { providerPlugin } from './provider-plugin.js'

export interface BaiduPluginOptions {
  /** One app, or several served by one backend (the first is the default). */
  apps: BaiduAppOptions | BaiduAppOptions[]
}

declare module 'fastify' {
  interface FastifyInstance {
    baidu: BaiduClient
  }
}

/** `fastify.baidu`, and Baidu logins in `fastify.miniprogramLogin`. */
export default providerPlugin('baidu', (options: BaiduPluginOptions, { latestSessionKeys, log }) =>
  new BaiduProvider(baiduAppsOf(options?.apps), latestSessionKeys(), log))
