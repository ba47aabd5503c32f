import fp from 'fastify-plugin'
import fastifyRateLimit, { normalizeIP, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import { parse as parseMs } from '@lukeed/ms'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { RateLimitedError } from '../errors.js'
import { publishLogin } from '../lib/diagnostics.js'
import { rejectUnknownKeys } from '../lib/options.js'
import { RateLimitCounters } from '../store/rate-limits.js'
import { kGateway } from './sessions.js'

export interface LoginRateLimitOptions {
  /** Logins per client per window. Default 100. */
  max?: number
  /**
   * The window, as @fastify/rate-limit reads it: milliseconds, a string
   * ('1 minute', '1m', '30s'), or a function (request, key) => milliseconds.
   * Default '1m'.
   */
  timeWindow?: number | string | ((request: FastifyRequest, key: string) => number) | ((request: FastifyRequest, key: string) => Promise<number>)
  /** Who the client is. Default its address (`request.ip`: set Fastify's `trustProxy` behind a proxy), IPv6 by /64. */
  keyGenerator?: (request: FastifyRequest) => string | Promise<string>
}

/** The app's `rateLimit` option, set by the plugin at its root: what an app's own login routes get by default. */
export const kLoginRateLimit = Symbol('fastify-miniprogram-auth.rateLimit')

declare module 'fastify' {
  interface FastifyInstance {
    [kLoginRateLimit]?: { rateLimit: LoginRateLimitOptions | false }
  }
  interface FastifyContextConfig {
    /** The provider whose login the route is: a 429 of the login rate limit publishes its login event. */
    loginProvider?: string
  }
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
  const window = timeWindowOf(timeWindow)
  if (typeof window === 'number' && window < 1000) {
    fastify.log.warn({ timeWindow }, `rateLimit.timeWindow is ${window} ms: it is read as @fastify/rate-limit reads it, a number in milliseconds (before 0.2, in seconds)`)
  }
  if (keyGenerator !== undefined && typeof keyGenerator !== 'function') throw new TypeError('rateLimit.keyGenerator must be a function (request) => string')
  const counters = new RateLimitCounters(fastify[kGateway])
  let warned = false
  await fastify.register(fastifyRateLimit, {
    global: false,
    max,
    timeWindow: window,
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
    errorResponseBuilder: (request, context) => {
      // A login refused before it began is still a login that ended: the login event counts it.
      const provider = request.routeOptions.config.loginProvider
      if (provider !== undefined) publishLogin({ provider, outcome: 'failure', replay: false, code: 'MPA_RATE_LIMITED', statusCode: 429, durationMs: 0 })
      return new RateLimitedError(context.after)
    }
  })
}

/** What @fastify/rate-limit takes for a window, checked at register (it would read anything else as a minute, without a word). */
function timeWindowOf (value: NonNullable<LoginRateLimitOptions['timeWindow']>): number | Exclude<LoginRateLimitOptions['timeWindow'], number | string | undefined> {
  if (typeof value === 'function') return value
  const ms = typeof value === 'string' ? parseMs(value) : value
  if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 1) return Math.trunc(ms)
  throw new TypeError(`rateLimit.timeWindow must be a positive number of milliseconds, a string like '1 minute' or '30s', or a function (request, key) => milliseconds (got ${JSON.stringify(value)})`)
}

const loginRateLimitPlugin = fp(loginRateLimit, {
  name: 'mpa-login-rate-limit',
  fastify: '5.x',
  dependencies: ['mpa-sessions']
})

/**
 * Registers the login rate limit in a route scope; the route config its login
 * routes take. Without options, the app's `rateLimit` (so an app's own login
 * routes are held to the limit it configured), else the default.
 */
export async function limitLogins (fastify: FastifyInstance, rateLimit: LoginRateLimitOptions | false | undefined): Promise<{ rateLimit?: object }> {
  const options = rateLimit ?? fastify[kLoginRateLimit]?.rateLimit
  if (options === false) return {}
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new TypeError(`rateLimit must be false or { max, timeWindow, keyGenerator } (got ${JSON.stringify(options)})`)
  }
  rejectUnknownKeys(options, ['max', 'timeWindow', 'keyGenerator'], 'rateLimit')
  await fastify.register(loginRateLimitPlugin, options ?? {})
  return { rateLimit: {} }
}
