import { douyinAppsOf, type DouyinAppOptions } from '../providers/douyin/options.js'
import { DouyinProvider, type DouyinClient } from '../providers/douyin/provider.js'
import { providerPlugin } from './provider-plugin.js'

export interface DouyinPluginOptions {
  /** One app, or several served by one backend (the first is the default). */
  apps: DouyinAppOptions | DouyinAppOptions[]
}

declare module 'fastify' {
  interface FastifyInstance {
    douyin: DouyinClient
  }
}

/** `fastify.douyin`, and Douyin logins in `fastify.miniprogramLogin`. */
export default providerPlugin('douyin', (options: DouyinPluginOptions, { latestSessionKeys, log }) =>
  new DouyinProvider(douyinAppsOf(options?.apps), latestSessionKeys(), log))
