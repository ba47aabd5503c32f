import { baiduAppsOf, type BaiduAppOptions } from '../providers/baidu/options.js'
import { BaiduProvider, type BaiduClient } from '../providers/baidu/provider.js'
import { kuaishouAppsOf, type KuaishouAppOptions } from '../providers/kuaishou/options.js'
import { KuaishouProvider, type KuaishouClient } from '../providers/kuaishou/provider.js'
import { providerPlugin } from './provider-plugin.js'

// The plugins of the platforms whose login gives an openid and a session_key
// sealing their open data, beside WeChat's family: Kuaishou and Baidu. Each
// takes one app, or several served by one backend (the first is the default).

export interface KuaishouPluginOptions {
  apps: KuaishouAppOptions | KuaishouAppOptions[]
}

export interface BaiduPluginOptions {
  apps: BaiduAppOptions | BaiduAppOptions[]
}

declare module 'fastify' {
  interface FastifyInstance {
    kuaishou: KuaishouClient
    baidu: BaiduClient
  }
}

/** `fastify.kuaishou`, and Kuaishou logins in `fastify.miniprogramLogin`. */
export const kuaishouPlugin = providerPlugin('kuaishou', (options: KuaishouPluginOptions, { latestSessionKeys, log }) =>
  new KuaishouProvider(kuaishouAppsOf(options?.apps), latestSessionKeys(), log))

/** `fastify.baidu`, and Baidu logins in `fastify.miniprogramLogin`. */
export const baiduPlugin = providerPlugin('baidu', (options: BaiduPluginOptions, { latestSessionKeys, log }) =>
  new BaiduProvider(baiduAppsOf(options?.apps), latestSessionKeys(), log))
