import type { FastifyInstance, FastifyRequest } from 'fastify'
import { WrongProviderError } from '../errors.js'
import type { Provider } from '../types.js'

/** Fails at boot, not on the first request, when the plugins a route file needs are missing. */
export function requireDecorators (fastify: FastifyInstance, routes: string, names: string[]): void {
  const missing = names.filter((name) => !fastify.hasDecorator(name))
  if (missing.length > 0) {
    throw new Error(`${routes}: register fastify-miniprogram-auth (or the plugins that add ${missing.join(', ')}) before these routes`)
  }
}

/** A preHandler, after authenticate, for routes that need a session of one provider. */
export function requireProvider (provider: Provider) {
  return async function providerSession (request: FastifyRequest): Promise<void> {
    if (request.session.provider !== provider) throw new WrongProviderError(provider)
  }
}
