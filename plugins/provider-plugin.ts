import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, FastifyPluginOptions } from 'fastify'
import type { SecretBox } from '../lib/secret-box.js'
import type { RedisGateway } from '../store/gateway.js'
import { LatestSessionKeys } from '../store/latest-session-keys.js'
import type { LoginProvider } from '../types.js'
import { kGateway, kSecretBox } from './sessions.js'

/** What a provider is built with, besides its options. */
export interface ProviderContext {
  /** The app's logger, bound to `{ plugin: 'mpa-<name>' }`. */
  log: FastifyBaseLogger
  /** The store's Redis gateway, for the provider's own records. */
  gateway: RedisGateway
  /** The app's keys: what a provider keeps in Redis of the platform's secrets (tokens) is sealed with them. */
  secrets: SecretBox
  /**
   * The latest session_key the platform issued per openid (for the platforms
   * whose every login rotates it), kept as long as a session may live.
   */
  latestSessionKeys: () => LatestSessionKeys
}

/**
 * The plugin of a login provider: builds it from the options, adds its logins
 * to `fastify.miniprogramLogin`, decorates `fastify[provider.name]` with it
 * and closes it with the app.
 */
export function providerPlugin<Options extends FastifyPluginOptions, P extends LoginProvider & { close?: () => Promise<void> }> (
  name: P['name'],
  build: (options: Options, context: ProviderContext) => P
) {
  const plugin: FastifyPluginAsync<Options> = async (fastify: FastifyInstance, options) => {
    const gateway = fastify[kGateway]
    const secrets = fastify[kSecretBox]
    const provider = build(options, {
      log: fastify.log.child({ plugin: `mpa-${name}` }),
      gateway,
      secrets,
      latestSessionKeys: () => new LatestSessionKeys(gateway, secrets, name, fastify.sessions.maxAgeMs)
    })
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
