import type { FastifyRequest } from 'fastify'
import { parseDuration } from '../lib/duration.js'
import { rejectUnknownKeys } from '../lib/options.js'
import type { RevokeEvent } from '../types.js'
import type { RedisGateway } from './gateway.js'
import type { SessionCacheOptions } from './session-cache.js'

export interface SessionCacheConfig {
  /** Most sessions held in this process. Default 10,000. */
  max?: number
  /** Most bytes of session records held in this process. Default 16 MiB. */
  maxBytes?: number
  /** How often the invalidation connection must answer a ping: seconds or a string. Default '1s'. */
  heartbeat?: number | string
}

export interface SessionOptions {
  /** Idle lifetime: seconds or a string like '7d'. Default 7 days. */
  ttl?: number | string
  /** Absolute lifetime: seconds or a string like '30d'. Default 30 days. */
  maxAge?: number | string
  /** Most live sessions per user; the oldest is revoked beyond it. Default 10. */
  maxPerUser?: number
  /** Longest wait for Redis before answering 503: seconds or a string. Default '2s'. */
  storeTimeout?: number | string
  /**
   * A session cache in this process, kept coherent by Redis (client-side
   * caching invalidations): a hit costs no Redis call. On by default in the
   * plugin; `new SessionStore()` has one only when given (then `close()` it).
   */
  cache?: SessionCacheConfig | false
}

/** The keys of SessionOptions, for refusing unknown ones. */
export const SESSION_OPTION_KEYS = ['ttl', 'maxAge', 'maxPerUser', 'storeTimeout', 'cache'] as const satisfies ReadonlyArray<keyof SessionOptions>

/** What the store says about itself, for the app's log. */
interface StoreLog {
  info: (details: object, message: string) => void
  warn: (details: object, message: string) => void
}

/** What the plugin gives the store besides its options. */
export interface StoreWiring {
  /** Whether a missing `cache` option means a cache (the plugin's default) or none. */
  cacheByDefault?: boolean
  /** The Redis gateway the plugin's other store modules share. */
  gateway?: RedisGateway
  /** Where the store says that its cache went on or off, and why. */
  log?: StoreLog
  /** Errors of background work (lazy renewal), which no request waits for. */
  onBackgroundError?: (err: unknown) => void
  /** Told of every revocation once it is done. */
  report?: (event: RevokeEvent, request?: FastifyRequest) => Promise<void>
}

export interface SessionStoreOptions extends SessionOptions {
  /** Prefix of every Redis key. Default 'mpa:'. */
  keyPrefix?: string
}

/** The options, checked; each message names the option. */
export interface SessionConfig {
  keyPrefix: string
  ttlMs: number
  maxAgeMs: number
  maxPerUser: number
  storeTimeoutMs: number
  /** null: no cache. */
  cache: (SessionCacheOptions & { heartbeatMs: number }) | null
}

/** Every default of the session options is here. */
export function sessionConfigOf (options: SessionStoreOptions, cacheByDefault: boolean): SessionConfig {
  const keyPrefix = options.keyPrefix ?? 'mpa:'
  if (typeof keyPrefix !== 'string') throw new TypeError('keyPrefix must be a string')
  const ttlMs = parseDuration(options.ttl ?? '7d', 'session.ttl')
  const maxAgeMs = parseDuration(options.maxAge ?? '30d', 'session.maxAge')
  if (maxAgeMs < ttlMs) throw new TypeError('session.maxAge must not be shorter than session.ttl')
  const maxPerUser = options.maxPerUser ?? 10
  if (!Number.isInteger(maxPerUser) || maxPerUser < 1) {
    throw new TypeError(`session.maxPerUser must be a positive integer (got ${JSON.stringify(options.maxPerUser)})`)
  }
  const storeTimeoutMs = parseDuration(options.storeTimeout ?? '2s', 'session.storeTimeout')
  return { keyPrefix, ttlMs, maxAgeMs, maxPerUser, storeTimeoutMs, cache: cacheConfigOf(options.cache ?? (cacheByDefault ? {} : false)) }
}

function cacheConfigOf (cache: SessionCacheConfig | false): SessionConfig['cache'] {
  if (cache === false) return null
  if (typeof cache !== 'object' || cache === null) throw new TypeError(`session.cache must be false or { max, maxBytes, heartbeat } (got ${JSON.stringify(cache)})`)
  rejectUnknownKeys(cache, ['max', 'maxBytes', 'heartbeat'], 'session.cache')
  const maxEntries = cache.max ?? 10_000
  const maxBytes = cache.maxBytes ?? 16 * 1024 * 1024
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError(`session.cache.max must be a positive integer (got ${JSON.stringify(cache.max)})`)
  if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new TypeError(`session.cache.maxBytes must be a positive integer (got ${JSON.stringify(cache.maxBytes)})`)
  return { maxEntries, maxBytes, heartbeatMs: parseDuration(cache.heartbeat ?? '1s', 'session.cache.heartbeat') }
}
