import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { RedisGateway } from '../store/gateway.js'
import { SessionStore, type SessionStoreOptions } from '../store/sessions.js'

export interface SessionsPluginOptions extends SessionStoreOptions {
  /** An ioredis Redis or Cluster; defaults to `fastify.redis` from @fastify/redis. */
  redis?: Redis | Cluster
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
  const store = new SessionStore(redis, options)
  store.onBackgroundError = (err) => fastify.log.warn({ err }, 'session renewal failed')
  fastify.decorate('sessions', store)
  fastify.decorate(kGateway, new RedisGateway(redis, store.keyPrefix, store.storeTimeoutMs))
}

export default fp(sessionsPlugin, {
  name: 'mpa-sessions',
  fastify: '5.x'
})
