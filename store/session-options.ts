import type { FastifyRequest } from 'fastify'
import { parseDuration } from '../lib/duration.js'
import { rejectUnknownKeys } from '../lib/options.js'
import { SecretBox, type SecretKey } from '../lib/secret-box.js'
import type { Provider, RevokeEvent } from '../types.js'
import type { ReplicasOption } from './durable-writes.js'
import type { RedisGateway } from './gateway.js'
import type { SessionCacheOptions } from './session-cache.js'

export interface SessionCacheConfig {
  /** Most sessions held in this process (the least recently used go first). Default 10,000. */
  max?: number
  /** Most bytes of session records held in this process. Default 16 MiB. */
  maxBytes?: number
  /**
   * How stale this process's copies may be: the cache answers only while
   * Redis has vouched for them within this lease, and every revocation waits
   * this long before it is acknowledged. Seconds or a string. Default '100ms'.
   */
  lease?: number | string
  /** How long a ping of the invalidation connection may go unanswered before it is opened anew. Default '1s'. */
  heartbeat?: number | string
}

/** The lifetimes and caps of one platform's sessions, or one app's. */
export interface SessionRule {
  /** Idle lifetime: seconds or a string like '7d'. */
  ttl?: number | string
  /** Absolute lifetime: seconds or a string like '30d'. */
  maxAge?: number | string
  /** Most live sessions of this platform (or app) per user; the oldest is replaced beyond it. */
  maxPerUser?: number
}

export interface SessionOptions {
  /** Idle lifetime: seconds or a string like '7d'. Default 7 days. */
  ttl?: number | string
  /** Absolute lifetime: seconds or a string like '30d'. Default 30 days. */
  maxAge?: number | string
  /** Most live sessions per user, every platform together; the oldest is replaced beyond it. Default 10. */
  maxPerUser?: number
  /**
   * One session per platform and user: a new WeChat login replaces the
   * user's previous WeChat session, not their Alipay one (a platform's rule
   * may allow more with its own maxPerUser). Default false.
   */
  onePerPlatform?: boolean
  /** Rules of one platform (its provider name: 'wechat', 'alipay', an app's own), over the defaults above. */
  platforms?: Partial<Record<Provider, SessionRule>>
  /** Rules of one app (its appId), over its platform's. */
  apps?: Record<string, SessionRule>
  /** Longest wait for Redis before answering 503: seconds or a string. Default '2s'. */
  storeTimeout?: number | string
  /**
   * How many replicas must have a revocation before it is acknowledged (Redis
   * WAIT). 'auto' (the default): one when the set-up has replicas (Sentinel,
   * or a master with a replica), none otherwise. 0 turns it off.
   */
  replicas?: ReplicasOption
  /**
   * How long a session that ended early (replaced, revoked, banned) still
   * says why, instead of answering as expired: at most this, and never
   * longer than it would have lived. Seconds or a string. Default '1d'.
   */
  tombstoneTtl?: number | string
  /**
   * A session cache in this process, kept coherent by Redis (client-side
   * caching invalidations): a hit costs no Redis call. On by default in the
   * plugin; `new SessionStore()` has one only when given (then `close()` it).
   */
  cache?: SessionCacheConfig | false
}

/** The keys of SessionOptions, for refusing unknown ones. */
export const SESSION_OPTION_KEYS = [
  'ttl', 'maxAge', 'maxPerUser', 'onePerPlatform', 'platforms', 'apps', 'storeTimeout', 'replicas', 'tombstoneTtl', 'cache'
] as const satisfies ReadonlyArray<keyof SessionOptions>

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
  /** The app's keys for the upstream secrets kept with sessions. */
  secrets?: SecretBox
  /** Where the store says what it does on its own: its cache on or off, and why. */
  log?: StoreLog
  /** Errors of background work (lazy renewal), which no request waits for. */
  onBackgroundError?: (err: unknown) => void
  /** Told of every revocation once it is acknowledged. */
  report?: (event: RevokeEvent, request?: FastifyRequest) => void
}

export interface SessionStoreOptions extends SessionOptions {
  /** Prefix of every Redis key. Default 'mpa:'. */
  keyPrefix?: string
  /** Keys that seal the upstream secrets kept with sessions (AES-256-GCM); the first seals, every one opens. */
  secretKeys?: SecretKey[]
}

/** A session's lifetimes and its platform's cap, as its rules decide. */
interface ResolvedRule {
  ttlMs: number
  maxAgeMs: number
  /** Most live sessions of its platform per user; Infinity: no cap but the overall one. */
  platformCap: number
}

/** The options, checked; each message names the option. */
export interface SessionConfig {
  keyPrefix: string
  ttlMs: number
  maxAgeMs: number
  /** The longest maxAge of any rule: what the user's index must outlive. */
  longestMaxAgeMs: number
  maxPerUser: number
  storeTimeoutMs: number
  replicas: ReplicasOption
  tombstoneTtlMs: number
  /** The rule of a session of `provider` for `appId`. */
  ruleOf: (provider: Provider, appId: string) => ResolvedRule
  /** null: no cache. */
  cache: (SessionCacheOptions & { leaseMs: number, heartbeatMs: number }) | null
}

/** Every default of the session options is here. */
export function sessionConfigOf (options: SessionStoreOptions, cacheByDefault: boolean): SessionConfig {
  const keyPrefix = options.keyPrefix ?? 'mpa:'
  if (typeof keyPrefix !== 'string') throw new TypeError('keyPrefix must be a string')
  const defaults = ruleConfigOf(options, 'session', { ttlMs: parseDuration('7d', 'session.ttl'), maxAgeMs: parseDuration('30d', 'session.maxAge'), platformCap: Infinity })
  const maxPerUser = capOf(options.maxPerUser ?? 10, 'session.maxPerUser')
  const onePerPlatform = options.onePerPlatform ?? false
  if (typeof onePerPlatform !== 'boolean') throw new TypeError(`session.onePerPlatform must be a boolean (got ${JSON.stringify(onePerPlatform)})`)
  const platforms = rulesOf(options.platforms, 'session.platforms', { ...defaults, platformCap: onePerPlatform ? 1 : Infinity })
  const apps = options.apps
  if (apps !== undefined && (typeof apps !== 'object' || apps === null)) throw new TypeError('session.apps must be { [appId]: { ttl, maxAge, maxPerUser } }')
  // Asked on every read: each provider and app resolved once (by provider, then app: no string built per read).
  const resolved = new Map<Provider, Map<string, ResolvedRule>>()
  const ruleOf = (provider: Provider, appId: string): ResolvedRule => {
    let ofProvider = resolved.get(provider)
    if (ofProvider === undefined) resolved.set(provider, ofProvider = new Map())
    let rule = ofProvider.get(appId)
    if (rule === undefined) {
      const platform = platforms.get(provider) ?? { ...defaults, platformCap: onePerPlatform ? 1 : Infinity }
      const app = apps?.[appId]
      rule = app === undefined ? platform : ruleConfigOf(app, `session.apps.${appId}`, platform)
      ofProvider.set(appId, rule)
    }
    return rule
  }
  // Checked at register time, not at the first login of the app.
  for (const [appId, rule] of Object.entries(apps ?? {})) ruleConfigOf(rule, `session.apps.${appId}`, defaults)
  const maxAges = [defaults.maxAgeMs, ...[...platforms.values()].map(({ maxAgeMs }) => maxAgeMs),
    ...Object.entries(apps ?? {}).map(([appId, rule]) => ruleConfigOf(rule, `session.apps.${appId}`, defaults).maxAgeMs)]
  const storeTimeoutMs = parseDuration(options.storeTimeout ?? '2s', 'session.storeTimeout')
  const replicas = options.replicas ?? 'auto'
  if (replicas !== 'auto' && !(Number.isInteger(replicas) && replicas >= 0)) {
    throw new TypeError(`session.replicas must be 'auto' or a number of replicas, 0 or more (got ${JSON.stringify(replicas)})`)
  }
  return {
    keyPrefix,
    ttlMs: defaults.ttlMs,
    maxAgeMs: defaults.maxAgeMs,
    longestMaxAgeMs: Math.max(...maxAges),
    maxPerUser,
    storeTimeoutMs,
    replicas,
    tombstoneTtlMs: parseDuration(options.tombstoneTtl ?? '1d', 'session.tombstoneTtl'),
    ruleOf,
    cache: cacheConfigOf(options.cache ?? (cacheByDefault ? {} : false))
  }
}

/** The app's keys for upstream secrets, checked. */
export function secretBoxOf (options: SessionStoreOptions): SecretBox {
  return new SecretBox(options.secretKeys)
}

function capOf (value: unknown, option: string): number {
  if (!Number.isInteger(value) || (value as number) < 1) throw new TypeError(`${option} must be a positive integer (got ${JSON.stringify(value)})`)
  return value as number
}

/** A rule's options over `base`, checked. */
function ruleConfigOf (rule: SessionRule, option: string, base: ResolvedRule): ResolvedRule {
  if (typeof rule !== 'object' || rule === null) throw new TypeError(`${option} must be { ttl, maxAge, maxPerUser }`)
  const ttlMs = rule.ttl === undefined ? base.ttlMs : parseDuration(rule.ttl, `${option}.ttl`)
  // A rule that lengthens the idle lifetime lengthens the inherited maxAge with it; the defaults do not.
  const inherited = option === 'session' ? base.maxAgeMs : Math.max(base.maxAgeMs, ttlMs)
  const maxAgeMs = rule.maxAge === undefined ? inherited : parseDuration(rule.maxAge, `${option}.maxAge`)
  if (maxAgeMs < ttlMs) throw new TypeError(`${option}.maxAge must not be shorter than ${option}.ttl`)
  const platformCap = option === 'session' || rule.maxPerUser === undefined ? base.platformCap : capOf(rule.maxPerUser, `${option}.maxPerUser`)
  return { ttlMs, maxAgeMs, platformCap }
}

function rulesOf (rules: Partial<Record<string, SessionRule>> | undefined, option: string, base: ResolvedRule): Map<string, ResolvedRule> {
  if (rules === undefined) return new Map()
  if (typeof rules !== 'object' || rules === null) throw new TypeError(`${option} must be { [name]: { ttl, maxAge, maxPerUser } }`)
  return new Map(Object.entries(rules).flatMap(([name, rule]) => {
    if (rule === undefined) return []
    rejectUnknownKeys(rule, ['ttl', 'maxAge', 'maxPerUser'], `${option}.${name}`)
    return [[name, ruleConfigOf(rule, `${option}.${name}`, base)] as const]
  }))
}

function cacheConfigOf (cache: SessionCacheConfig | false): SessionConfig['cache'] {
  if (cache === false) return null
  if (typeof cache !== 'object' || cache === null) throw new TypeError(`session.cache must be false or { max, maxBytes, lease, heartbeat } (got ${JSON.stringify(cache)})`)
  rejectUnknownKeys(cache, ['max', 'maxBytes', 'lease', 'heartbeat'], 'session.cache')
  const maxEntries = cache.max ?? 10_000
  const maxBytes = cache.maxBytes ?? 16 * 1024 * 1024
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError(`session.cache.max must be a positive integer (got ${JSON.stringify(cache.max)})`)
  if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new TypeError(`session.cache.maxBytes must be a positive integer (got ${JSON.stringify(cache.maxBytes)})`)
  const leaseMs = parseDuration(cache.lease ?? '100ms', 'session.cache.lease')
  const heartbeatMs = parseDuration(cache.heartbeat ?? '1s', 'session.cache.heartbeat')
  if (heartbeatMs < leaseMs) throw new TypeError('session.cache.heartbeat must not be shorter than session.cache.lease')
  return { maxEntries, maxBytes, leaseMs, heartbeatMs }
}
