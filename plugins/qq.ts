import { qqAppsOf, type QqAppOptions } from '../providers/qq/options.js'
import { qqProvider, type QqClient } from '../providers/qq/provider.js'
import { providerPlugin } from './provider-plugin.js'

export interface QqPluginOptions {
  /** One app, or several served by one backend (the first is the default). */
  apps: QqAppOptions | QqAppOptions[]
}

declare module 'fastify' {
  interface FastifyInstance {
    qq: QqClient
  }
}

/** `fastify.qq`, and QQ logins in `fastify.miniprogramLogin`. */
export default providerPlugin('qq', (options: QqPluginOptions, { latestSessionKeys, log }) =>
  qqProvider(qqAppsOf(options?.apps), latestSessionKeys(), log))
