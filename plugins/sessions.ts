import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { parseDuration } from '../lib/duration.js'
import { StoreUnavailableError, MisconfiguredError } from '../lib/errors.js'
import { generateSkey, isWellFormedSkey, sessionIdOf } from '../lib/skey.js'

export type Provider = 'wechat' | 'alipay'

/** Who logged in, as the platform told us. */
export interface Identity {
  provider: Provider
  appId: string
  /** WeChat openid, or Alipay open_id. */
  openId?: string
  /** Alipay user_id (2088…), for apps that still get one. */
  userId?: string
  unionId?: string
  /** Profile fields the platform gave (Alipay auth_user scope). */
  profile?: Record<string, unknown>
}

/**
 * Augment this interface to type `request.user` (the `@fastify/jwt` pattern):
 *
 *   declare module 'fastify-miniprogram-auth' {
 *     interface FastifyMiniprogramAuth { user: { id: string, role: 'admin' | 'member' } }
 *   }
 */
export interface FastifyMiniprogramAuth {}

export interface DefaultUser {
  id: string | number
  [field: string]: unknown
}

export type AuthUser = FastifyMiniprogramAuth extends { user: infer U } ? U : DefaultUser

/** Upstream secrets kept with a session: readable by server code, never sent to a client. */
export interface SessionSecrets {
  /** WeChat session_key. */
  sessionKey?: string
  /** Alipay access token. */
  accessToken?: string
  /** Alipay refresh token. */
  refreshToken?: string
}

export interface Session {
  /** sha256 of the skey cut to 128 bits: names the session without revealing the skey. */
  id: string
  provider: Provider
  appId: string
  openId?: string
  userId?: string
  unionId?: string
  user: AuthUser
  /** The platform part of the login request's User-Agent (the phone), at most 48 characters. */
  device?: string
  createdAt: number
  /** When the session lapses if it is not used (the idle TTL, renewed lazily). */
  expiresAt: number
  /** When the session ends however much it is used. */
  absoluteExpiresAt: number
  /** Non-enumerable, so JSON.stringify and loggers never see it. */
  readonly secrets: SessionSecrets
}

export interface CreatedSession {
  skey: string
  expiresAt: number
  session: Session
}

export interface CreateSessionOptions {
  user: AuthUser
  secrets?: SessionSecrets
  device?: string
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
}

export interface SessionsPluginOptions extends SessionOptions {
  /** An ioredis Redis or Cluster; defaults to `fastify.redis` from @fastify/redis. */
  redis?: Redis | Cluster
  /** Prefix of every Redis key. Default 'mpa:'. */
  keyPrefix?: string
}

const DEVICE_MAX_LENGTH = 48
// Client states of a lost connection: a command would wait in ioredis's
// offline queue and run when Redis is back, long after we answered 503.
// (A client still connecting for the first time is given its chance.)
const LOST_STATUS = new Set(['reconnecting', 'close', 'end', 'disconnecting'])
const STALE_SLACK_MS = 5000

// Redis hash fields of a session: short names keep a session under 300 bytes.
const F = {
  user: 'usr',
  provider: 'p',
  appId: 'a',
  openId: 'o',
  userId: 'i',
  unionId: 'n',
  device: 'd',
  createdAt: 'c',
  absoluteExpiresAt: 'x'
} as const

// Each secret in a field of its own: no JSON wrapping to pay for.
const SECRET_FIELDS: Record<keyof SessionSecrets, string> = {
  sessionKey: 'sk',
  accessToken: 'at',
  refreshToken: 'rt'
}

export class SessionStore {
  readonly redis: Redis | Cluster
  readonly keyPrefix: string
  readonly ttlMs: number
  readonly maxAgeMs: number
  readonly maxPerUser: number
  readonly storeTimeoutMs: number
  private readonly renewing = new Set<string>()
  /** Called with errors of background work (lazy renewal), which no request waits for. */
  onBackgroundError: (err: unknown) => void = () => {}

  constructor (redis: Redis | Cluster, options: Omit<SessionsPluginOptions, 'redis'> = {}) {
    this.redis = redis
    this.keyPrefix = options.keyPrefix ?? 'mpa:'
    if (typeof this.keyPrefix !== 'string') throw new TypeError('keyPrefix must be a string')
    this.ttlMs = parseDuration(options.ttl ?? '7d', 'session.ttl')
    this.maxAgeMs = parseDuration(options.maxAge ?? '30d', 'session.maxAge')
    if (this.maxAgeMs < this.ttlMs) throw new TypeError('session.maxAge must not be shorter than session.ttl')
    this.maxPerUser = options.maxPerUser ?? 10
    if (!Number.isInteger(this.maxPerUser) || this.maxPerUser < 1) {
      throw new TypeError(`session.maxPerUser must be a positive integer (got ${JSON.stringify(options.maxPerUser)})`)
    }
    this.storeTimeoutMs = parseDuration(options.storeTimeout ?? '2s', 'session.storeTimeout')
  }

  /** A Redis key under this store's prefix. */
  key (...parts: string[]): string {
    return this.keyPrefix + parts.join(':')
  }

  /**
   * Runs Redis work with a deadline: a Redis that is down or slow becomes a 503
   * within `storeTimeout` instead of a hanging request. A client that lost its
   * connection gets no command at all: ioredis would queue it and send it when
   * Redis is back, long after we answered. Multi-step work calls `checkpoint()`
   * between steps, so what was abandoned at the deadline goes no further.
   */
  async withDeadline<T> (work: (checkpoint: () => void) => Promise<T>): Promise<T> {
    if (LOST_STATUS.has(this.redis.status)) throw new StoreUnavailableError()
    let abandoned = false
    const checkpoint = () => {
      if (abandoned) throw new StoreUnavailableError()
    }
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        abandoned = true
        reject(new StoreUnavailableError())
      }, this.storeTimeoutMs)
    })
    const running = (async () => work(checkpoint))()
    try {
      return await Promise.race([running, deadline])
    } catch (err) {
      if (err instanceof StoreUnavailableError) {
        running.catch(() => {}) // the late answer or failure of abandoned work is of no use
        throw err
      }
      // Errors of our own (already with a status) pass; Redis errors become 503.
      if (typeof (err as { statusCode?: unknown }).statusCode === 'number') throw err
      throw new StoreUnavailableError({ cause: err })
    } finally {
      clearTimeout(timer)
    }
  }

  async create (identity: Identity, { user, secrets = {}, device }: CreateSessionOptions): Promise<CreatedSession> {
    const uid = userIdOf(user)
    const skey = generateSkey()
    const id = sessionIdOf(skey)
    const createdAt = Date.now()
    const absoluteExpiresAt = createdAt + this.maxAgeMs
    const lifetime = Math.min(this.ttlMs, this.maxAgeMs)
    const fields: Record<string, string> = {
      [F.provider]: identity.provider,
      [F.appId]: identity.appId,
      [F.createdAt]: String(createdAt),
      [F.absoluteExpiresAt]: String(absoluteExpiresAt)
    }
    // The default user is rebuilt from the identity on read, not stored twice.
    if (uid !== defaultUserIdOf(identity) || Object.keys(user).length > 1) fields[F.user] = JSON.stringify(user)
    if (identity.openId) fields[F.openId] = identity.openId
    if (identity.userId) fields[F.userId] = identity.userId
    if (identity.unionId) fields[F.unionId] = identity.unionId
    for (const [name, field] of Object.entries(SECRET_FIELDS)) {
      const value = secrets[name as keyof SessionSecrets]
      if (value) fields[field] = value
    }
    if (device) fields[F.device] = deviceLabel(device)

    const indexKey = this.key('u', uid)
    const sessionKey = this.key('s', id)
    await this.withDeadline(async (checkpoint) => {
      // Index first: a session that exists is always indexed, so revoke-all
      // cannot miss it. Each step touches one key, which keeps Cluster happy.
      resultsOf(await this.redis.multi().zadd(indexKey, createdAt, id).pexpire(indexKey, this.maxAgeMs).exec())
      checkpoint()
      resultsOf(await this.redis.multi().hset(sessionKey, fields).pexpire(sessionKey, lifetime).exec())
      await this.enforceCap(uid)
    })

    const session = toSession(id, fields, createdAt + lifetime, secrets)
    return { skey, expiresAt: session.expiresAt, session }
  }

  /** The live session of an skey, or null. One Redis round trip; renews lazily. */
  async get (skey: string): Promise<Session | null> {
    if (!isWellFormedSkey(skey)) return null
    const id = sessionIdOf(skey)
    const found = await this.withDeadline(() => this.read(id))
    if (found === null) return null
    const { fields, pttl } = found
    const now = Date.now()
    const absoluteExpiresAt = Number(fields[F.absoluteExpiresAt])
    if (absoluteExpiresAt <= now) return null

    // Renew at most once per half TTL: only when renewing would push the expiry
    // out by half a TTL or more. Near the absolute expiry nothing is gained, so
    // nothing is written.
    let expiresAt = now + pttl
    const target = Math.min(this.ttlMs, absoluteExpiresAt - now)
    if (target - pttl >= this.ttlMs / 2) {
      expiresAt = now + target
      // One renewal in flight per session: concurrent requests that all cross
      // the half-TTL mark share it. PEXPIRE of a key revoked meanwhile is a
      // no-op: renewal never revives.
      if (!this.renewing.has(id)) {
        this.renewing.add(id)
        this.redis.pexpire(this.key('s', id), target)
          .catch(this.onBackgroundError)
          .finally(() => this.renewing.delete(id))
      }
    }
    return toSession(id, fields, expiresAt)
  }

  /** Revokes the session of an skey. True when there was one. */
  async revoke (skey: string): Promise<boolean> {
    if (!isWellFormedSkey(skey)) return false
    const id = sessionIdOf(skey)
    const sessionKey = this.key('s', id)
    return this.withDeadline(async () => {
      const [fields] = resultsOf(await this.redis.multi().hgetall(sessionKey).del(sessionKey).exec()) as [Record<string, string>]
      if (!fields[F.createdAt]) return false
      await this.redis.zrem(this.key('u', userIdOf(userOf(fields))), id)
      return true
    })
  }

  /** Revokes one session of a user by its id (as `list` shows it). True when there was one. */
  async revokeById (userId: string | number, id: string): Promise<boolean> {
    const uid = String(userId)
    const sessionKey = this.key('s', id)
    return this.withDeadline(async () => {
      // The session's own record proves ownership: the index may lag behind.
      const fields = await this.redis.hgetall(sessionKey)
      if (!fields[F.createdAt] || userIdOf(userOf(fields)) !== uid) return false
      const deleted = await this.redis.del(sessionKey)
      await this.redis.zrem(this.key('u', uid), id)
      return deleted === 1
    })
  }

  /** Revokes every session of a user. Returns how many were live. */
  async revokeUser (userId: string | number): Promise<number> {
    const indexKey = this.key('u', String(userId))
    return this.withDeadline(async () => {
      const entries = await this.indexEntries(indexKey)
      const deleted = await Promise.all(entries.map(({ id }) => this.redis.del(this.key('s', id))))
      // ZREM of exactly these ids, not DEL of the index, and not of a young
      // entry whose session is not written yet: a login racing with this call
      // stays indexed, so the next revoke-all still finds it.
      const now = Date.now()
      const done = entries.filter(({ createdAt }, i) => deleted[i] === 1 || this.isStale(createdAt, now)).map(({ id }) => id)
      if (done.length > 0) await this.redis.zrem(indexKey, ...done)
      return deleted.reduce((sum, n) => sum + n, 0)
    })
  }

  /** The live sessions of a user, newest first. Prunes stale index entries. */
  async list (userId: string | number): Promise<Session[]> {
    const indexKey = this.key('u', String(userId))
    return this.withDeadline(async () => {
      const entries = await this.indexEntries(indexKey)
      const found = await Promise.all(entries.map(({ id }) => this.read(id)))
      const now = Date.now()
      const stale = entries.filter(({ createdAt }, i) => found[i] === null && this.isStale(createdAt, now)).map(({ id }) => id)
      if (stale.length > 0) await this.redis.zrem(indexKey, ...stale)
      return entries
        .flatMap(({ id }, i) => {
          const live = found[i]
          return live ? [toSession(id, live.fields, now + live.pttl)] : []
        })
        .sort((a, b) => b.createdAt - a.createdAt)
    })
  }

  /** A session's record and remaining idle time: one pipelined round trip on one key. */
  private async read (id: string): Promise<{ fields: Record<string, string>, pttl: number } | null> {
    const sessionKey = this.key('s', id)
    const [fields, pttl] = resultsOf(await this.redis.pipeline().hgetall(sessionKey).pttl(sessionKey).exec()) as [Record<string, string>, number]
    return fields[F.createdAt] && pttl > 0 ? { fields, pttl } : null
  }

  /** A user's index entries, oldest first. */
  private async indexEntries (indexKey: string): Promise<Array<{ id: string, createdAt: number }>> {
    const flat = await this.redis.zrange(indexKey, 0, '-1', 'WITHSCORES')
    const entries: Array<{ id: string, createdAt: number }> = []
    for (let i = 0; i < flat.length; i += 2) entries.push({ id: flat[i] as string, createdAt: Number(flat[i + 1]) })
    return entries
  }

  /**
   * An index entry without a session is stale only once it is older than a
   * login can take between writing the index and writing the session (that
   * step is abandoned at the store deadline), with slack for clock skew
   * between instances.
   */
  private isStale (createdAt: number, now: number): boolean {
    return now - createdAt > this.storeTimeoutMs + STALE_SLACK_MS
  }

  /** Drops stale index entries and revokes the oldest sessions beyond maxPerUser. */
  private async enforceCap (uid: string): Promise<void> {
    const indexKey = this.key('u', uid)
    const entries = await this.indexEntries(indexKey)
    if (entries.length <= this.maxPerUser) return
    const live = await Promise.all(entries.map(({ id }) => this.redis.exists(this.key('s', id))))
    const now = Date.now()
    const liveIds = entries.filter((_entry, i) => live[i] === 1).map(({ id }) => id)
    const evicted = liveIds.slice(0, Math.max(0, liveIds.length - this.maxPerUser))
    await Promise.all(evicted.map((id) => this.redis.del(this.key('s', id))))
    const stale = entries.filter(({ createdAt }, i) => live[i] !== 1 && this.isStale(createdAt, now)).map(({ id }) => id)
    const dropped = [...stale, ...evicted]
    if (dropped.length > 0) await this.redis.zrem(indexKey, ...dropped)
  }
}

/** The replies of a MULTI or pipeline; the first failed command fails the whole. */
function resultsOf (results: Array<[Error | null, unknown]> | null): unknown[] {
  if (results === null) throw new StoreUnavailableError() // a MULTI discarded by Redis
  for (const [err] of results) if (err) throw err
  return results.map(([, value]) => value)
}

function userIdOf (user: AuthUser): string {
  const id = (user as { id?: unknown } | null)?.id
  if ((typeof id === 'string' && id.length > 0 && id.length <= 256) || (typeof id === 'number' && Number.isFinite(id))) {
    return String(id)
  }
  throw new MisconfiguredError('resolveUser must return an object with an id (a non-empty string up to 256 characters, or a number)')
}

/** The user id `defaultResolveUser` gives an identity. */
export function defaultUserIdOf (identity: Pick<Identity, 'provider' | 'appId' | 'openId' | 'userId'>): string {
  return `${identity.provider}:${identity.appId}:${identity.openId ?? identity.userId}`
}

function userOf (fields: Record<string, string>): AuthUser {
  const stored = fields[F.user]
  if (stored) return JSON.parse(stored) as AuthUser
  return {
    id: defaultUserIdOf({ provider: fields[F.provider] as Provider, appId: fields[F.appId] as string, openId: fields[F.openId], userId: fields[F.userId] })
  } as unknown as AuthUser
}

/**
 * A short device label from a user agent: its first parenthesised part names
 * the phone ("iPhone; CPU iPhone OS 17_0 like Mac OS X", "Linux; Android 14;
 * 23116PN5BC Build/…"), which is what a device list needs.
 */
function deviceLabel (userAgent: string): string {
  const platform = /\(([^)]+)\)/.exec(userAgent)?.[1] ?? userAgent
  return platform.slice(0, DEVICE_MAX_LENGTH)
}

function toSession (id: string, fields: Record<string, string>, expiresAt: number, secrets?: SessionSecrets): Session {
  const session: Session = {
    id,
    provider: fields[F.provider] as Provider,
    appId: fields[F.appId] as string,
    user: userOf(fields),
    createdAt: Number(fields[F.createdAt]),
    expiresAt,
    absoluteExpiresAt: Number(fields[F.absoluteExpiresAt])
  } as Session
  if (fields[F.openId]) session.openId = fields[F.openId]
  if (fields[F.userId]) session.userId = fields[F.userId]
  if (fields[F.unionId]) session.unionId = fields[F.unionId]
  if (fields[F.device]) session.device = fields[F.device]
  let storedSecrets = secrets
  if (!storedSecrets) {
    storedSecrets = {}
    for (const [name, field] of Object.entries(SECRET_FIELDS)) {
      if (fields[field]) storedSecrets[name as keyof SessionSecrets] = fields[field]
    }
  }
  Object.defineProperty(session, 'secrets', { value: storedSecrets, enumerable: false })
  return session
}

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionStore
  }
}

const sessionsPlugin: FastifyPluginAsync<SessionsPluginOptions> = async (fastify, options) => {
  const redis = options.redis ?? (fastify as { redis?: Redis | Cluster }).redis
  if (!redis || typeof (redis as Redis).pipeline !== 'function') {
    throw new TypeError('redis: pass an ioredis Redis or Cluster instance as options.redis, or register @fastify/redis first')
  }
  const store = new SessionStore(redis, options)
  store.onBackgroundError = (err) => fastify.log.warn({ err }, 'session renewal failed')
  fastify.decorate('sessions', store)
}

export default fp(sessionsPlugin, {
  name: 'mpa-sessions',
  fastify: '5.x'
})
