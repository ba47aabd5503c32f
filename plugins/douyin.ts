import { douyinAppsOf, type DouyinAppOptions } from '../providers/douyin/options.js'
import { DouyinPhoneCodes } from '../providers/douyin/phone-code.js'
import { DouyinProvider, type DouyinClient } from '../providers/douyin/provider.js'
import { PlatformTokenRecords } from '../store/platform-tokens.js'
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
export default providerPlugin('douyin', (options: DouyinPluginOptions, { gateway, secrets, latestSessionKeys, log }) => {
  const configs = douyinAppsOf(options?.apps)
  return new DouyinProvider(configs, latestSessionKeys(), log, new DouyinPhoneCodes(configs, new PlatformTokenRecords(gateway, secrets, 'douyin'), log))
})
