import { wecomAppsOf, type WecomAppOptions } from '../providers/wecom/options.js'
import { WecomProvider, type WecomClient } from '../providers/wecom/provider.js'
import { PlatformTokenRecords } from '../store/platform-tokens.js'
import { providerPlugin } from './provider-plugin.js'

export interface WecomPluginOptions {
  /** One app, or several served by one backend (the first is the default). */
  apps: WecomAppOptions | WecomAppOptions[]
}

declare module 'fastify' {
  interface FastifyInstance {
    wecom: WecomClient
  }
}

/** `fastify.wecom`, and WeCom logins in `fastify.miniprogramLogin`. */
export default providerPlugin('wecom', (options: WecomPluginOptions, { gateway, secrets, log }) =>
  new WecomProvider(wecomAppsOf(options?.apps), new PlatformTokenRecords(gateway, secrets, 'wecom'), log))
