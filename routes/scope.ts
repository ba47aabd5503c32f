import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import type { LoginRateLimitOptions } from '../plugins/login-rate-limit.js'
import { errorContract } from '../plugins/error-contract.js'
import { requireDecorators } from './guards.js'

/** The largest request body a route of ours reads: real ones are under 20 KiB. 413 beyond it. */
const BODY_LIMIT = 32 * 1024

/**
 * What every route file of ours sets up in its scope: the plugins it needs
 * (checked at boot), bodies validated as sent (no type coercion: Fastify's
 * default would turn { code: 123 } into '123'), the body limit, and the
 * error contract.
 */
export function routeScope (fastify: FastifyInstance, routes: string, needs: Array<string | symbol>): void {
  requireDecorators(fastify, routes, needs)
  fastify.setValidatorCompiler(TypeBoxValidatorCompiler)
  fastify.addHook('onRoute', (route) => {
    route.bodyLimit ??= BODY_LIMIT
  })
  fastify.setErrorHandler(errorContract)
}

/** Options of the route files with a login route. */
export interface LoginRoutesOptions {
  /** The login rate limit (default on); false turns it off. */
  rateLimit?: LoginRateLimitOptions | false
}
