import fp from 'fastify-plugin'
import fastifyRateLimit, { normalizeIP, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { RateLimitedError } from '../errors.js'
import { parseDuration } from '../lib/duration.js'
import { rejectUnknownKeys } from '../lib/options.js'
import { RateLimitCounters } from '../store/rate-limits.js'
import { kGateway } from './sessions.js'

export interface LoginRateLimitOptions {
  /** Logins per client per window. Default 100. */
  max?: number
  /** The window: seconds or a string like '1m'. Default '1m'. */
  timeWindow?: number | string
  /** Who the client is. Default its address (`request.ip`: set Fastify's `trustProxy` behind a proxy), IPv6 by /64. */
  keyGenerator?: (request: FastifyRequest) => string | Promise<string>
}

const DEFAULT_MAX = 100
const PRIVATE_ADDRESS = /^(?:10\.|127\.|192\.168\.|172\.(?:1[6-9]|2\d|3[01])\.|::1$|f[cd][0-9a-f]{2}:|::ffff:(?:10|127)\.)/i

/**
 * The login routes' rate limit, on @fastify/rate-limit with counters in the
 * app's Redis, so every instance shares the count. It applies to the routes
 * of its scope whose `config.rateLimit` is set (`limitLogins` does both), and
 * all of them count against one window per client.
 */
const loginRateLimit: FastifyPluginAsync<LoginRateLimitOptions> = async (fastify, options) => {
  const { max = DEFAULT_MAX, timeWindow = '1m', keyGenerator } = options
  if (!Number.isInteger(max) || max < 1) throw new TypeError(`rateLimit.max must be a positive integer (got ${JSON.stringify(max)})`)
  const timeWindowMs = parseDuration(timeWindow, 'rateLimit.timeWindow')
  if (keyGenerator !== undefined && typeof keyGenerator !== 'function') throw new TypeError('rateLimit.keyGenerator must be a function (request) => string')
  const counters = new RateLimitCounters(fastify[kGateway])
  let warned = false
  await fastify.register(fastifyRateLimit, {
    global: false,
    max,
    timeWindow: timeWindowMs,
    // @fastify/rate-limit constructs its store; ours is built already.
    store: function store () { return counters } as unknown as FastifyRateLimitStoreCtor,
    keyGenerator: keyGenerator ?? ((request) => {
      // Behind a proxy without trustProxy every client has the proxy's address, and shares one count.
      if (!warned && request.headers['x-forwarded-for'] !== undefined && PRIVATE_ADDRESS.test(request.ip)) {
        warned = true
        request.log.warn({ ip: request.ip }, 'login rate limit: requests come from a private address with X-Forwarded-For; set Fastify\'s trustProxy, or every client behind the proxy shares one count')
      }
      return normalizeIP(request.ip)
    }),
    errorResponseBuilder: (_request, context) => new RateLimitedError(context.after)
  })
}

const loginRateLimitPlugin = fp(loginRateLimit, {
  name: 'mpa-login-rate-limit',
  fastify: '5.x',
  dependencies: ['mpa-sessions']
})

/** Registers the login rate limit in a route scope; the route config its login routes take. */
export async function limitLogins (fastify: FastifyInstance, options: LoginRateLimitOptions | false | undefined): Promise<{ rateLimit?: object }> {
  if (options === false) return {}
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new TypeError(`rateLimit must be false or { max, timeWindow, keyGenerator } (got ${JSON.stringify(options)})`)
  }
  rejectUnknownKeys(options, ['max', 'timeWindow', 'keyGenerator'], 'rateLimit')
  await fastify.register(loginRateLimitPlugin, options ?? {})
  return { rateLimit: {} }
}
