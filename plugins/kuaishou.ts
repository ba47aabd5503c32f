import { kuaishouAppsOf, type KuaishouAppOptions } from '../providers/kuaishou/options.js'
import { KuaishouProvider, type KuaishouClient } from '../providers/kuaishou/provider.js'
import { providerPlugin } from './provider-plugin.js'

export interface KuaishouPluginOptions {
  /** One app, or several served by one backend (the first is the default). */
  apps: KuaishouAppOptions | KuaishouAppOptions[]
}

declare module 'fastify' {
  interface FastifyInstance {
    kuaishou: KuaishouClient
  }
}

/** `fastify.kuaishou`, and Kuaishou logins in `fastify.miniprogramLogin`. */
export default providerPlugin('kuaishou', (options: KuaishouPluginOptions, { latestSessionKeys, log }) =>
  new KuaishouProvider(kuaishouAppsOf(options?.apps), latestSessionKeys(), log))
