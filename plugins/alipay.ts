import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { appOptionsOf } from '../lib/apps.js'
import { alipayAppOf, type AlipayAppOptions } from '../providers/alipay/options.js'
import { AlipayProvider, type AlipayClient } from '../providers/alipay/provider.js'

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
const alipayPlugin: FastifyPluginAsync<AlipayPluginOptions> = async (fastify, options) => {
  const apps = appOptionsOf(options?.apps, 'alipay').map(({ options: app, name }) => alipayAppOf(app, name))
  const alipay = new AlipayProvider(apps, fastify.log)
  fastify.miniprogramLogin.addProvider(alipay)
  fastify.decorate('alipay', alipay)
}

export default fp(alipayPlugin, {
  name: 'mpa-alipay',
  fastify: '5.x',
  dependencies: ['mpa-sessions', 'mpa-login']
})
