import { alipayAppsOf, type AlipayAppOptions } from '../providers/alipay/options.js'
import { AlipayProvider, type AlipayClient } from '../providers/alipay/provider.js'
import { providerPlugin } from './provider-plugin.js'

export interface AlipayPluginOptions {
  /** One app, or several: the login body's appId picks one, the first is the default. */
  apps: AlipayAppOptions | AlipayAppOptions[]
}

declare module 'fastify' {
  interface FastifyInstance {
    alipay: AlipayClient
  }
}

/** `fastify.alipay`, and Alipay logins in `fastify.miniprogramLogin`. */
export default providerPlugin('alipay', (options: AlipayPluginOptions, { log }) => new AlipayProvider(alipayAppsOf(options?.apps), log))
