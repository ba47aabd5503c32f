import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { AppHooks, type OnRevoke } from '../login/hooks.js'
import { evictionPolicies } from '../store/eviction-policy.js'
import { RedisGateway } from '../store/gateway.js'
import { sessionConfigOf, type SessionStoreOptions } from '../store/session-options.js'
import { SessionStore } from '../store/sessions.js'

export interface SessionsPluginOptions extends SessionStoreOptions {
  /** An ioredis Redis or Cluster; defaults to `fastify.redis` from @fastify/redis. */
  redis?: Redis | Cluster
  /** Called, awaited, after sessions were revoked: logout, logout-all, the per-user cap, the app's own calls. */
  onRevoke?: OnRevoke
}

/** The Redis gateway the other store modules share; internal, hence a symbol. */
export const kGateway = Symbol('fastify-miniprogram-auth.gateway')

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionStore
    [kGateway]: RedisGateway
  }
}

/** `fastify.sessions`: the session store, on the app's Redis. */
const sessionsPlugin: FastifyPluginAsync<SessionsPluginOptions> = async (fastify, options) => {
  const redis = options.redis ?? (fastify as { redis?: Redis | Cluster }).redis
  if (!redis || typeof (redis as Redis).pipeline !== 'function') {
    throw new TypeError('redis: pass an ioredis Redis or Cluster instance as options.redis, or register @fastify/redis first')
  }
  const { onRevoke, ...storeOptions } = options
  const log = fastify.log.child({ plugin: 'mpa-sessions' })
  const { keyPrefix, storeTimeoutMs } = sessionConfigOf(storeOptions, true)
  // One door to Redis for the store and every other Redis user of ours.
  const gateway = new RedisGateway(redis, keyPrefix, storeTimeoutMs)
  const hooks = new AppHooks(log, { onRevoke })
  // The session cache is on unless the app says `cache: false`.
  const store = new SessionStore(redis, storeOptions, {
    cacheByDefault: true,
    gateway,
    log,
    onBackgroundError: (err) => log.warn({ err }, 'session renewal failed'),
    report: (event, request) => hooks.revoked(event, request)
  })
  // Connections of the cache open once the app is whole: a registration that fails leaves none behind.
  fastify.addHook('onReady', async () => store.open())
  fastify.addHook('onClose', async () => store.close())
  fastify.decorate('sessions', store)
  fastify.decorate(kGateway, gateway)
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
