import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync, FastifyPluginOptions } from 'fastify'
import type { LoginProvider } from '../types.js'

/**
 * The plugin of a login provider: builds it from the options, adds its logins
 * to `fastify.miniprogramLogin`, decorates `fastify[provider.name]` with it
 * and closes it with the app.
 */
export function providerPlugin<Options extends FastifyPluginOptions, P extends LoginProvider & { close?: () => Promise<void> }> (
  name: P['name'],
  build: (fastify: FastifyInstance, options: Options) => P
) {
  const plugin: FastifyPluginAsync<Options> = async (fastify, options) => {
    const provider = build(fastify, options)
    if (provider.close) fastify.addHook('onClose', () => provider.close!())
    fastify.miniprogramLogin.addProvider(provider)
    fastify.decorate(name, provider as never)
  }
  return fp(plugin, {
    name: `mpa-${name}`,
    fastify: '5.x',
    dependencies: ['mpa-sessions', 'mpa-login']
  })
}
