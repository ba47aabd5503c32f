import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { AppHooks, type OnRevoke } from '../login/hooks.js'
import { evictionPolicies } from '../store/eviction-policy.js'
import { RedisGateway } from '../store/gateway.js'
import { failoverDetectorMayEnd } from '../store/redis-nodes.js'
import { parseDuration } from '../lib/duration.js'
import type { SecretBox } from '../lib/secret-box.js'
import { secretBoxOf, sessionConfigOf, type SessionStoreOptions } from '../store/session-options.js'
import { SessionStore } from '../store/sessions.js'

export interface SessionsPluginOptions extends SessionStoreOptions {
  /** An ioredis Redis or Cluster; defaults to `fastify.redis` from @fastify/redis. */
  redis?: Redis | Cluster
  /** Called after sessions were revoked (logout, logout-all, the caps, a ban, the app's own calls), beside the reply. */
  onRevoke?: OnRevoke
  /** How long an app hook (onRevoke, onLogin) is waited for before it is logged and let go: seconds or a string. Default '5s'. */
  hookTimeout?: number | string
}

/** The Redis gateway the other store modules share; internal, hence a symbol. */
export const kGateway = Symbol('fastify-miniprogram-auth.gateway')
/** The app's keys for the upstream secrets kept in Redis (sessions, tokens); internal. */
export const kSecretBox = Symbol('fastify-miniprogram-auth.secret-box')
/** The app's hooks runner, for the login plugin's onLogin; internal. */
export const kHookTimeout = Symbol('fastify-miniprogram-auth.hook-timeout')

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionStore
    [kGateway]: RedisGateway
    [kSecretBox]: SecretBox
    [kHookTimeout]: number
  }
}

/** `fastify.sessions`: the session store, on the app's Redis. */
const sessionsPlugin: FastifyPluginAsync<SessionsPluginOptions> = async (fastify, options) => {
  const redis = options.redis ?? (fastify as { redis?: Redis | Cluster }).redis
  if (!redis || typeof (redis as Redis).pipeline !== 'function') {
    throw new TypeError('redis: pass an ioredis Redis or Cluster instance as options.redis, or register @fastify/redis first')
  }
  const { onRevoke, hookTimeout, ...storeOptions } = options
  const log = fastify.log.child({ plugin: 'mpa-sessions' })
  const { keyPrefix, storeTimeoutMs } = sessionConfigOf(storeOptions, true)
  const hookTimeoutMs = parseDuration(hookTimeout ?? '5s', 'hookTimeout')
  // One door to Redis for the store and every other Redis user of ours.
  const gateway = new RedisGateway(redis, keyPrefix, storeTimeoutMs, log)
  const secrets = secretBoxOf(storeOptions)
  if (!secrets.sealing) log.warn('no secretKeys: the platforms\' session_keys and tokens are kept in Redis in clear; a dump or a replica gives them away (docs/operations.md)')
  if (failoverDetectorMayEnd(redis)) log.warn('ioredis failoverDetector before ioredis 6.1.0: a failover can end this Redis client for good (every request 503 until a restart). Upgrade ioredis, or leave failoverDetector off (docs/operations.md)')
  const hooks = new AppHooks(log, { onRevoke }, hookTimeoutMs)
  // The session cache is on unless the app says `cache: false`.
  const store = new SessionStore(redis, storeOptions, {
    cacheByDefault: true,
    gateway,
    secrets,
    log,
    onBackgroundError: (err) => log.warn({ err }, 'session renewal failed'),
    report: (event, request) => hooks.revoked(event, request)
  })
  // Connections of the cache open once the app is whole: a registration that fails leaves none behind.
  fastify.addHook('onReady', async () => store.open())
  fastify.addHook('onClose', async () => {
    store.close()
    await hooks.settled()
  })
  fastify.decorate('sessions', store)
  fastify.decorate(kGateway, gateway)
  fastify.decorate(kSecretBox, secrets)
  fastify.decorate(kHookTimeout, hookTimeoutMs)
  // Every key we write has a TTL, so any policy but noeviction may evict the
  // per-user indexes first: "log out everywhere" would then miss live sessions.
  fastify.addHook('onReady', async () => {
    for (const { node, policy } of await evictionPolicies(gateway)) {
      if (policy === null) {
        fastify.log.debug({ node }, 'cannot read Redis maxmemory-policy (CONFIG not allowed here): make sure it is noeviction')
      } else if (policy !== 'noeviction') {
        fastify.log.warn({ node, policy }, `Redis maxmemory-policy is ${policy}: under memory pressure Redis evicts session indexes first, and logging out everywhere then misses live sessions. Set maxmemory-policy to noeviction (README, Operations)`)
      }
    }
  })
}

export default fp(sessionsPlugin, {
  name: 'mpa-sessions',
  fastify: '5.x'
})
