import type { FastifyInstance, FastifyRequest } from 'fastify'
import { WrongProviderError } from '../errors.js'
import { kAuthentication } from '../plugins/authenticate.js'
import type { Provider, Session } from '../types.js'

/** Fails at boot, not on the first request, when the plugins a route file needs are missing. */
export function requireDecorators (fastify: FastifyInstance, routes: string, names: Array<string | symbol>): void {
  const missing = names.filter((name) => !fastify.hasDecorator(name)).map((name) => typeof name === 'symbol' ? name.description : name)
  if (missing.length > 0) {
    throw new Error(`${routes}: register fastify-miniprogram-auth (or the plugins that add ${missing.join(', ')}) before these routes`)
  }
}

/** A preHandler, after authenticate, for routes that need a session of one provider. */
export function requireProvider (provider: Provider) {
  return async function providerSession (request: FastifyRequest): Promise<void> {
    if (sessionOf(request)?.provider !== provider) throw new WrongProviderError(provider)
  }
}

/** The session authenticate set, under whatever name the app gave it (`request.session` by default). */
function sessionOf (request: FastifyRequest): Session | null {
  const authentication = request.server[kAuthentication] as FastifyInstance[typeof kAuthentication] | undefined
  return authentication ? authentication.sessionOf(request) : (request as unknown as { session?: Session }).session ?? null
}
