// The session store: sessions in Redis (one hash each), each user's index,
// the cap, revocation, lazy renewal, and the session cache in front of them.
// One job, the life of a session in Redis, hence above the usual size: the
// parts with no I/O (the record codec, the cache, the options) are elsewhere.
import type { Cluster, Redis } from 'ioredis'
import { generateSkey, isWellFormedSkey, sessionIdOf } from '../lib/skey.js'
import type { CreatedSession, CreateSessionOptions, Identity, RevokeEvent, RevokeOptions, RevokeTarget, Session } from '../types.js'
import { RedisGateway, resultsOf, type Script } from './gateway.js'
import { InvalidationListener, type Acknowledgement } from './invalidations.js'
import { SessionCache, type PendingRead } from './session-cache.js'
import { sessionConfigOf, type SessionStoreOptions, type StoreWiring } from './session-options.js'
import { absoluteExpiryOf, decodeSession, encodeSession, freezeSession, isSessionRecord, recordBytes, userIdOf, userOf, type SessionFields } from './session-record.js'

const STALE_SLACK_MS = 5000
// Logins of one process in one millisecond get index scores a thousandth of
// a millisecond apart, so the cap evicts the older of them.
let sequence = 0
function indexScoreOf (createdAt: number): number {
  sequence = (sequence + 1) % 1000
  return createdAt + sequence / 1000
}
// Adds a session to its user's index and makes the index live at least as
// long as the session may: never shorter, so an instance with a smaller
// maxAge (a rolling deploy that lowers it) cannot let the sessions of a
// longer one escape revoke-all.
const INDEX_SESSION = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
`

/**
 * Sessions in Redis: `s:<id>` is the session record (a hash with a TTL), and
 * `u:<user id>` the user's index (a sorted set of session ids by creation
 * time) that the device list, the cap and revoke-all read. Every command
 * touches one key, which keeps Redis Cluster happy. Each revocation, once
 * done, goes to the reporter it was given (the plugin's: the app's onRevoke
 * and the revocation channel).
 */
export class SessionStore {
  readonly keyPrefix: string
  readonly ttlMs: number
  readonly maxAgeMs: number
  readonly maxPerUser: number
  readonly storeTimeoutMs: number
  readonly #wiring: Required<StoreWiring>
  readonly #gateway: RedisGateway
  readonly #indexSession: Script
  readonly #renewing = new Set<string>()
  readonly #cache: SessionCache | null = null
  readonly #invalidations: InvalidationListener | null = null
  readonly #sessionPrefix: string
  // The session keys' prefix as Redis names them (with the client's own ioredis keyPrefix).
  readonly #trackedPrefix: string

  /**
   * `wiring` is the plugin's: the gateway its other Redis users share, its
   * log, where background failures and revocations go. Without it the store
   * has a gateway of its own and reports to nobody.
   */
  constructor (redis: Redis | Cluster, options: SessionStoreOptions = {}, wiring: StoreWiring = {}) {
    const config = sessionConfigOf(options, wiring.cacheByDefault ?? false)
    this.keyPrefix = config.keyPrefix
    this.ttlMs = config.ttlMs
    this.maxAgeMs = config.maxAgeMs
    this.maxPerUser = config.maxPerUser
    this.storeTimeoutMs = config.storeTimeoutMs
    this.#gateway = wiring.gateway ?? new RedisGateway(redis, this.keyPrefix, this.storeTimeoutMs)
    this.#indexSession = this.#gateway.script('IndexSession', 1, INDEX_SESSION)
    this.#wiring = {
      cacheByDefault: false,
      gateway: this.#gateway,
      log: wiring.log ?? { info: () => {}, warn: () => {} },
      onBackgroundError: wiring.onBackgroundError ?? (() => {}),
      report: wiring.report ?? (async () => {})
    }
    this.#sessionPrefix = this.#gateway.key('s', '')
    this.#trackedPrefix = ((redis.options as { keyPrefix?: string }).keyPrefix ?? '') + this.#sessionPrefix
    const cache = config.cache
    if (cache !== null) {
      const sessionCache = new SessionCache(cache)
      // Keys as Redis names them: with the client's own ioredis keyPrefix, if any.
      const tracked = this.#trackedPrefix
      this.#cache = sessionCache
      this.#invalidations = new InvalidationListener(redis, tracked, cache.heartbeatMs, {
        invalidate: (keys) => {
          for (const key of keys) if (key.startsWith(tracked)) sessionCache.invalidate(key.slice(tracked.length))
        },
        flush: () => sessionCache.flush(),
        readiness: (ready, reason) => {
          if (ready) this.#wiring.log.info({ reason }, 'session cache on: Redis invalidations confirmed')
          else this.#wiring.log.warn({ reason }, 'session cache off until Redis invalidations are confirmed again: every request reads Redis')
        }
      })
    }
  }

  /** Whether reads are served from this process's cache now (its invalidations are confirmed). */
  get caching (): boolean {
    return this.#invalidations?.ready ?? false
  }

  /** Opens the cache's invalidation connections (the first read does it too). */
  open (): void {
    this.#invalidations?.start()
  }

  /** Stops the cache's Redis connections; the app's own client stays open. */
  close (): void {
    this.#invalidations?.close()
  }

  /** A new session; the user's oldest ones beyond maxPerUser are revoked (reported as 'cap'). */
  async create (identity: Identity, { user, secrets = {}, device }: CreateSessionOptions): Promise<CreatedSession> {
    const skey = generateSkey()
    const id = sessionIdOf(skey)
    const createdAt = Date.now()
    const fields = encodeSession({ identity, user, secrets, device, createdAt, absoluteExpiresAt: createdAt + this.maxAgeMs })
    const uid = userIdOf(user)
    const lifetime = Math.min(this.ttlMs, this.maxAgeMs)
    const indexKey = this.#indexKey(uid)
    const sessionKey = this.#sessionKey(id)
    let evicted: { ack: Acknowledgement | null, ids: string[] } = { ack: null, ids: [] }
    await this.#gateway.run('session.create', async (redis, checkpoint) => {
      // Index first: a session that exists is always indexed, so revoke-all
      // cannot miss it.
      await this.#indexSession(indexKey, String(indexScoreOf(createdAt)), id, String(this.maxAgeMs))
      checkpoint()
      resultsOf(await redis.multi().hset(sessionKey, fields).pexpire(sessionKey, lifetime).exec())
      evicted = await this.#enforceCap(uid, id)
    })
    await this.#acknowledged(evicted.ack, evicted.ids)
    const session = decodeSession(id, fields, createdAt + lifetime)
    await this.#reported({ reason: 'cap', sessionIds: evicted.ids, userId: uid })
    return { skey, expiresAt: session.expiresAt, session, evicted: evicted.ids }
  }

  /**
   * The live session of an skey, or null: from the cache when it holds it,
   * else one Redis round trip. Renews lazily. The session is read-only.
   */
  async get (skey: string): Promise<Session | null> {
    return this.lookup(skey)
  }

  /**
   * The read behind get(), for authenticate's hot path: a cache hit, or an
   * skey that cannot be one, answers at once, without a promise (every
   * authenticated request would otherwise pay for two). Not for apps: get().
   */
  lookup (skey: string): Session | null | Promise<Session | null> {
    if (!isWellFormedSkey(skey)) return null
    this.#invalidations?.start()
    if (this.#invalidations?.ready !== true) return this.#load(sessionIdOf(skey), null)
    const now = Date.now()
    const cached = this.#cache!.get(skey, now)
    // Past half the idle TTL it is read again and renewed, like a miss.
    if (cached !== null && !this.#renewalDue(cached.expiresAt - now, cached.absoluteExpiresAt - now)) return cached
    const id = sessionIdOf(skey)
    return this.#load(id, this.#cache!.beginRead(id, skey))
  }

  /** One Redis round trip for session `id`; `read`, when the cache is on, lets it keep what was read. */
  async #load (id: string, read: PendingRead | null): Promise<Session | null> {
    let session: Session | null = null
    let cacheUntil = 0
    let bytes = 0
    try {
      const sentAt = Date.now()
      const found = await this.#gateway.run('session.read', (redis) => this.#read(redis, id))
      if (found === null) return null
      const { fields, pttl } = found
      const now = Date.now()
      const absoluteExpiresAt = absoluteExpiryOf(fields)
      if (absoluteExpiresAt <= now) return null
      // Never past the absolute expiry, whatever the clock did between Redis and here.
      let expiresAt = Math.min(now + pttl, absoluteExpiresAt)
      if (this.#renewalDue(pttl, absoluteExpiresAt - now)) expiresAt = now + this.#renew(id, Math.min(this.ttlMs, absoluteExpiresAt - now))
      session = freezeSession(decodeSession(id, fields, expiresAt))
      // Cacheable until Redis's own expiry of the key, reckoned from when the read left.
      cacheUntil = Math.min(sentAt + pttl, absoluteExpiresAt)
      bytes = recordBytes(fields)
      return session
    } finally {
      if (read !== null) this.#cache!.endRead(read, session, cacheUntil, bytes)
    }
  }

  /**
   * Renews the idle TTL to `target` ms. One renewal in flight per session:
   * concurrent requests that all cross the half-TTL mark share it. PEXPIRE of
   * a key revoked meanwhile is a no-op: renewal never revives. Its
   * invalidation drops the cached copy everywhere: one re-read per half TTL.
   */
  #renew (id: string, target: number): number {
    if (!this.#renewing.has(id)) {
      this.#renewing.add(id)
      this.#gateway.redis.pexpire(this.#sessionKey(id), target)
        .catch(this.#wiring.onBackgroundError)
        // Readers whose HGETALL+PTTL left before the renewal landed still see
        // the old TTL: they may arrive up to a store timeout later. (Half a
        // TTL later the next renewal is due anyway.)
        .finally(() => setTimeout(() => this.#renewing.delete(id), Math.min(this.storeTimeoutMs, this.ttlMs / 2)).unref())
    }
    return target
  }

  /**
   * Renew once half the idle TTL is spent, when renewing gains something:
   * at most one write per half TTL. Near the absolute expiry the last renewal
   * reaches exactly it, so a session in use lives its whole maxAge; after
   * that nothing is gained and nothing is written.
   */
  #renewalDue (idleLeftMs: number, absoluteLeftMs: number): boolean {
    const gain = Math.min(this.ttlMs, absoluteLeftMs) - idleLeftMs
    return idleLeftMs <= this.ttlMs / 2 && gain > Math.min(1000, this.ttlMs / 10)
  }

  /**
   * Revokes one session (by skey, or by id with its user's id) or every
   * session of a user, on every instance; then reports the revoked ones,
   * `options.reason` ('admin' by default). Answers the ids it revoked.
   */
  async revoke (target: RevokeTarget, options?: RevokeOptions): Promise<string[]>
  /** @deprecated Use `revoke({ skey })`, which answers the revoked ids. */
  async revoke (skey: string): Promise<boolean>
  async revoke (target: RevokeTarget | string, { reason = 'admin', request }: RevokeOptions = {}): Promise<string[] | boolean> {
    if (typeof target === 'string') return (await this.revoke({ skey: target })).length > 0
    let revoked: string[]
    let userId: string | undefined
    if ('skey' in target) {
      revoked = await this.#revokeSkey(target.skey)
    } else {
      userId = String(target.userId)
      revoked = 'sessionId' in target ? await this.#revokeOne(userId, target.sessionId) : await this.#revokeAll(userId)
    }
    await this.#reported({ reason, sessionIds: revoked, ...(userId === undefined ? {} : { userId }) }, request)
    return revoked
  }

  /** @deprecated Use `revoke({ userId, sessionId })`. True when there was one. */
  async revokeById (userId: string | number, sessionId: string): Promise<boolean> {
    return (await this.revoke({ userId, sessionId })).length > 0
  }

  /** @deprecated Use `revoke({ userId })`, which answers the revoked ids. Returns how many were live. */
  async revokeUser (userId: string | number): Promise<number> {
    return (await this.revoke({ userId })).length
  }

  /** @deprecated Use `revoke({ userId })`. */
  async revokeUserSessions (userId: string | number): Promise<string[]> {
    return this.revoke({ userId })
  }

  async #reported (event: RevokeEvent, request?: RevokeOptions['request']): Promise<void> {
    if (event.sessionIds.length > 0) await this.#wiring.report(event, request)
  }

  async #revokeSkey (skey: string): Promise<string[]> {
    if (!isWellFormedSkey(skey)) return []
    const id = sessionIdOf(skey)
    const sessionKey = this.#sessionKey(id)
    const ack = this.#expectInvalidation([id])
    const revoked = await this.#gateway.run('session.revoke', async (redis) => {
      const [fields] = resultsOf(await redis.multi().hgetall(sessionKey).del(sessionKey).exec()) as [SessionFields]
      if (!isSessionRecord(fields)) return false
      await redis.zrem(this.#indexKey(userIdOf(userOf(fields))), id)
      return true
    })
    await this.#acknowledged(ack, revoked ? [id] : [])
    return revoked ? [id] : []
  }

  async #revokeOne (uid: string, id: string): Promise<string[]> {
    const sessionKey = this.#sessionKey(id)
    const ack = this.#expectInvalidation([id])
    const revoked = await this.#gateway.run('session.revoke', async (redis) => {
      // The session's own record proves ownership: the index may lag behind.
      const fields = await redis.hgetall(sessionKey)
      if (!isSessionRecord(fields) || userIdOf(userOf(fields)) !== uid) return false
      const deleted = await redis.del(sessionKey)
      await redis.zrem(this.#indexKey(uid), id)
      return deleted === 1
    })
    await this.#acknowledged(ack, revoked ? [id] : [])
    return revoked ? [id] : []
  }

  async #revokeAll (uid: string): Promise<string[]> {
    const indexKey = this.#indexKey(uid)
    let ack: Acknowledgement | null = null
    let revoked: string[] = []
    await this.#gateway.run('session.revoke-user', async (redis) => {
      const entries = await this.#indexEntries(redis, indexKey)
      ack = this.#expectInvalidation(entries.map(({ id }) => id))
      const deleted = await Promise.all(entries.map(({ id }) => redis.del(this.#sessionKey(id))))
      revoked = entries.filter((_entry, i) => deleted[i] === 1).map(({ id }) => id)
      // ZREM of exactly these ids, not DEL of the index, and not of a young
      // entry whose session is not written yet: a login racing with this call
      // stays indexed, so the next revoke-all still finds it.
      const now = Date.now()
      const done = entries.filter(({ createdAt }, i) => deleted[i] === 1 || this.#isStale(createdAt, now)).map(({ id }) => id)
      if (done.length > 0) await redis.zrem(indexKey, ...done)
    })
    await this.#acknowledged(ack, revoked)
    return revoked
  }

  /** The live sessions of a user, newest first. Prunes stale index entries. */
  async list (userId: string | number): Promise<Session[]> {
    const indexKey = this.#indexKey(String(userId))
    return this.#gateway.run('session.list', async (redis) => {
      const entries = await this.#indexEntries(redis, indexKey)
      const found = await Promise.all(entries.map(({ id }) => this.#read(redis, id)))
      const now = Date.now()
      const stale = entries.filter(({ createdAt }, i) => found[i] === null && this.#isStale(createdAt, now)).map(({ id }) => id)
      if (stale.length > 0) await redis.zrem(indexKey, ...stale)
      return entries
        .flatMap(({ id }, i) => {
          const live = found[i]
          return live ? [decodeSession(id, live.fields, Math.min(now + live.pttl, absoluteExpiryOf(live.fields)))] : []
        })
        .sort((a, b) => b.createdAt - a.createdAt)
    })
  }

  /**
   * Before deleting sessions: this instance forgets them now, and learns when
   * Redis has sent their invalidation. Redis sends it to every tracking
   * connection at once, so once this instance's listener has it, every other
   * instance has been sent it too.
   */
  #expectInvalidation (ids: string[]): Acknowledgement | null {
    if (this.#invalidations === null || ids.length === 0) return null
    for (const id of ids) this.#cache!.invalidate(id)
    return this.#invalidations.expect(ids.map((id) => this.#trackedPrefix + id))
  }

  /** Waits (at most a store timeout) until the revoked sessions' invalidations were seen. */
  async #acknowledged (ack: Acknowledgement | null, ids: string[]): Promise<void> {
    if (ack === null) return
    const seen = await ack.wait(ids.map((id) => this.#trackedPrefix + id), this.storeTimeoutMs)
    if (!seen && ids.length > 0 && this.caching) {
      this.#wiring.log.warn({ sessions: ids.length }, 'revoked, but the invalidation was not seen within the store timeout: other instances may serve the session until theirs arrives')
    }
  }

  #sessionKey (id: string): string {
    return this.#gateway.key('s', id)
  }

  #indexKey (uid: string): string {
    return this.#gateway.key('u', uid)
  }

  /** A session's record and remaining idle time: one pipelined round trip on one key. */
  async #read (redis: Redis | Cluster, id: string): Promise<{ fields: SessionFields, pttl: number } | null> {
    const key = this.#sessionKey(id)
    const [fields, pttl] = resultsOf(await redis.pipeline().hgetall(key).pttl(key).exec()) as [SessionFields, number]
    return isSessionRecord(fields) && pttl > 0 ? { fields, pttl } : null
  }

  /** A user's index entries, oldest first. */
  async #indexEntries (redis: Redis | Cluster, indexKey: string): Promise<Array<{ id: string, createdAt: number }>> {
    const flat = await redis.zrange(indexKey, 0, '-1', 'WITHSCORES')
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
  #isStale (createdAt: number, now: number): boolean {
    return now - createdAt > this.storeTimeoutMs + STALE_SLACK_MS
  }

  /** Drops stale index entries and revokes the oldest sessions beyond maxPerUser, never `created`. */
  async #enforceCap (uid: string, created: string): Promise<{ ack: Acknowledgement | null, ids: string[] }> {
    const redis = this.#gateway.redis
    const indexKey = this.#indexKey(uid)
    const entries = await this.#indexEntries(redis, indexKey)
    if (entries.length <= this.maxPerUser) return { ack: null, ids: [] }
    const live = await Promise.all(entries.map(({ id }) => redis.exists(this.#sessionKey(id))))
    const now = Date.now()
    const liveIds = entries.filter((_entry, i) => live[i] === 1).map(({ id }) => id)
    // The oldest go; never the session this login just created (another
    // instance's clock may run ahead of ours).
    const evicted = liveIds.filter((id) => id !== created).slice(0, Math.max(0, liveIds.length - this.maxPerUser))
    const ack = this.#expectInvalidation(evicted)
    const deleted = await Promise.all(evicted.map((id) => redis.del(this.#sessionKey(id))))
    const stale = entries.filter(({ createdAt }, i) => live[i] !== 1 && this.#isStale(createdAt, now)).map(({ id }) => id)
    const dropped = [...stale, ...evicted]
    if (dropped.length > 0) await redis.zrem(indexKey, ...dropped)
    return { ack, ids: evicted.filter((_id, i) => deleted[i] === 1) }
  }
}
