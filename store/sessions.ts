// The session store: sessions in Redis (one string each), each user's index
// and ban, the caps, revocation, lazy renewal, live user updates, and the
// session cache in front of them. One job, the life of a session in Redis,
// hence above the usual size: what needs no I/O is beside it (the record
// codec, the index entries, the scripts, the options), and so is what keeps
// the cache honest (coherence.ts) and what makes a revocation survive a
// failover (durable-writes.ts).
import { Cluster, type Redis } from 'ioredis'
import { StoreUnavailableError, UserBannedError } from '../errors.js'
import type { SecretBox } from '../lib/secret-box.js'
import { generateSkey, isWellFormedSkey, sessionIdOf } from '../lib/skey.js'
import type {
  AuthUser, CreatedSession, CreateSessionOptions, Identity, RevokeEvent, RevokeOptions, RevokeReason, RevokeTarget, Session, SessionEndReason
} from '../types.js'
import { Coherence } from './coherence.js'
import type { PendingRead } from './session-cache.js'
import { DurableWrites, type Write } from './durable-writes.js'
import { RedisGateway, type Script } from './gateway.js'
import { latestSessionKeyOf } from './latest-session-keys.js'
import { indexEntriesOf, indexMember, indexScoreOf, replacedBy, type IndexEntry } from './session-index.js'
import { secretBoxOf, sessionConfigOf, type SessionConfig, type SessionStoreOptions, type StoreWiring } from './session-options.js'
import {
  decodeLegacyRecord, decodeRecord, encodeSession, expiryDigits, recordBytes, tombstone, userIdOf, withUser, type RecordRead
} from './session-record.js'
import { CREATE_SESSION, END_SESSION, INDEX_SESSION, RAISE_MARK, RENEW_SESSION, SET_USER } from './session-scripts.js'

// An index entry whose session is missing is dead only once it is older than
// a login can take between writing the index and the session (the store
// timeout), with slack for clock skew between instances.
const STALE_SLACK_MS = 5000
// Tries of updateUser's compare-and-set against a concurrent renewal.
const USER_UPDATE_TRIES = 5
// What a cached 0.1 record is counted as (its fields are no longer at hand).
const LEGACY_RECORD_BYTES = 512
// A session read writes nothing (the gateway may answer it before its deadline).
const READ_ONLY = { readOnly: true }

/** A record as read: decoded, as stored (for a renewal), the issued-before mark if it was read, its size for the cache. */
interface StoredRead { read: RecordRead, raw: string | null, mark: number | null, size: number }

/** A session that ended early, as `lookup` answers it: one object per reason. */
export interface SessionEnd {
  readonly ended: SessionEndReason
}
const ENDS: Record<SessionEndReason, SessionEnd> = {
  revoked: Object.freeze({ ended: 'revoked' }),
  replaced: Object.freeze({ ended: 'replaced' }),
  banned: Object.freeze({ ended: 'banned' })
}

/** How each revocation ends the sessions it ends, as their next request is told. */
const END_OF: Record<RevokeReason, SessionEndReason> = {
  logout: 'revoked',
  'logout-all': 'revoked',
  admin: 'revoked',
  'issued-before': 'revoked',
  cap: 'replaced',
  ban: 'banned'
}

/** A ban, as `fastify.sessions.banned(userId)` tells it. */
export interface Ban {
  /** Epoch ms when it lifts by itself; absent: until `unban`. */
  until?: number
  reason?: string
}

export interface BanOptions {
  /** When it lifts by itself: epoch ms or a Date. Default: never (until `unban`). */
  until?: number | Date
  /** Why, for the app (not shown to the user by us). */
  reason?: string
}

/** A user as it is, or how to change it: a patch merged over it, or a function of it. */
export type UserUpdate = Partial<AuthUser> | ((user: AuthUser) => AuthUser)

/**
 * Sessions in Redis: `s:<id>` is the session record (a string with a TTL,
 * store/session-record.ts), `u:{<user id>}` the user's index (a sorted set
 * of `<id>:<provider>` by creation time) that the device list, the caps and
 * revoke-all read, and `ban:{<user id>}` a ban; the braces put a user's
 * index and ban in one Redis Cluster slot. Each revocation, once
 * acknowledged, goes to the reporter the store was given (the plugin's: the
 * app's onRevoke and the revocation channel).
 */
export class SessionStore {
  readonly keyPrefix: string
  readonly ttlMs: number
  readonly maxAgeMs: number
  readonly maxPerUser: number
  readonly storeTimeoutMs: number
  readonly #config: SessionConfig
  readonly #wiring: Required<Omit<StoreWiring, 'secrets'>>
  readonly #gateway: RedisGateway
  readonly #box: SecretBox
  readonly #durable: DurableWrites
  readonly #coherence: Coherence | null = null
  readonly #renewing = new Set<string>()
  // Every read builds a session key: the prefix once.
  readonly #sessionKeyPrefix: string
  readonly #scripts: Record<'index' | 'create' | 'end' | 'renew' | 'setUser' | 'raiseMark', Script>

  /**
   * `wiring` is the plugin's: the gateway its other Redis users share, the
   * app's secret keys, its log, where background failures and revocations
   * go. Without it the store has its own gateway and reports to nobody.
   */
  constructor (redis: Redis | Cluster, options: SessionStoreOptions = {}, wiring: StoreWiring = {}) {
    const config = sessionConfigOf(options, wiring.cacheByDefault ?? false)
    this.#config = config
    this.keyPrefix = config.keyPrefix
    this.ttlMs = config.ttlMs
    this.maxAgeMs = config.maxAgeMs
    this.maxPerUser = config.maxPerUser
    this.storeTimeoutMs = config.storeTimeoutMs
    const log = wiring.log ?? { info: () => {}, warn: () => {} }
    this.#gateway = wiring.gateway ?? new RedisGateway(redis, this.keyPrefix, this.storeTimeoutMs, log)
    this.#box = wiring.secrets ?? secretBoxOf(options)
    this.#wiring = { cacheByDefault: false, gateway: this.#gateway, log, onBackgroundError: wiring.onBackgroundError ?? (() => {}), report: wiring.report ?? (() => {}) }
    const gateway = this.#gateway
    this.#sessionKeyPrefix = gateway.key('s', '')
    this.#scripts = {
      index: gateway.script('IndexSession', 2, INDEX_SESSION),
      create: gateway.script('CreateSession', 1, CREATE_SESSION),
      end: gateway.script('EndSession', 1, END_SESSION),
      renew: gateway.script('RenewSession', 1, RENEW_SESSION),
      setUser: gateway.script('SetSessionUser', 1, SET_USER),
      raiseMark: gateway.script('RaiseIssuedBefore', 1, RAISE_MARK)
    }
    this.#durable = new DurableWrites(redis, config.replicas, Math.max(50, Math.floor(this.storeTimeoutMs / 2)), (connection) => gateway.defineScripts(connection))
    if (config.cache !== null) {
      // Keys as Redis names them: with the client's own ioredis keyPrefix, if any.
      const clientPrefix = (redis.options as { keyPrefix?: string }).keyPrefix ?? ''
      this.#coherence = new Coherence(redis, { ...config.cache, sessionPrefix: clientPrefix + this.#sessionKey(''), markKey: clientPrefix + this.#markKey() }, {
        readMark: () => this.#gateway.run('issued-before.read', async (client) => Number(await client.get(this.#markKey()) ?? 0)),
        readiness: (ready, reason) => {
          if (ready) log.info({ reason }, 'session cache on: Redis invalidations confirmed')
          else log.warn({ reason }, 'session cache off until Redis invalidations are confirmed again: every request reads Redis')
        },
        suspect: (reason) => gateway.suspect(reason)
      })
    }
  }

  /** Whether reads are served from this process's cache now (every node's invalidations confirmed, within the lease). */
  get caching (): boolean {
    return this.#coherence?.fresh ?? false
  }

  /** Opens the cache's invalidation connections (the first read does it too). */
  open (): void {
    this.#coherence?.start()
  }

  /** Stops the store's own Redis connections; the app's client stays open. */
  close (): void {
    this.#coherence?.close()
    this.#durable.close()
  }

  /**
   * A new session. A banned user gets 403 MPA_USER_BANNED; the user's
   * sessions beyond a cap (of its platform, or overall) are replaced, and
   * reported as 'cap' once acknowledged. `alongside`, given the session
   * before it is written, runs at the same time as its writes (the login
   * flow keeps its answer for replays so, in the same round trip).
   */
  async create (identity: Identity, { user, secrets = {}, device }: CreateSessionOptions, alongside?: (created: Omit<CreatedSession, 'evicted'>) => Promise<void>): Promise<CreatedSession> {
    const skey = generateSkey()
    const id = sessionIdOf(skey)
    const uid = userIdOf(user)
    const rule = this.#config.ruleOf(identity.provider, identity.appId)
    const createdAt = Date.now()
    const absoluteExpiresAt = createdAt + rule.maxAgeMs
    const expiresAt = Math.min(createdAt + rule.ttlMs, absoluteExpiresAt)
    const record = encodeSession(id, { identity, user, secrets, device, createdAt, absoluteExpiresAt }, expiresAt, this.#box)
    const decoded = decodeRecord(id, record, this.#box)
    if (decoded?.state !== 'live') throw new TypeError('a new session record did not read back')
    const { session } = decoded
    const sessionKey = this.#sessionKey(id)
    // Past it, neither write takes place: a frozen Redis that goes on runs them, long after our 503.
    const deadline = String(createdAt + this.storeTimeoutMs)
    const [[indexed, written]] = await Promise.all([this.#gateway.run('session.create', () => Promise.all([
      // One round trip: the index (and the ban check) and the record at once.
      this.#scripts.index(this.#indexKey(uid), this.#banKey(uid), indexMember(id, identity.provider), String(indexScoreOf(createdAt)),
        String(this.#config.longestMaxAgeMs), String(createdAt - this.#config.longestMaxAgeMs), deadline) as Promise<[number, unknown]>,
      this.#scripts.create(sessionKey, record, String(expiresAt), deadline) as Promise<number | [number]>
    ])), alongside?.({ skey, expiresAt, session })])
    if (indexed[0] === 2 || Array.isArray(written)) throw lateError()
    if (indexed[0] === 1) {
      await this.#durable.write([this.#endWrite(id, 'banned', false)])
      throw bannedError(String(indexed[1]))
    }
    // The record was not written: a ban's tombstone was there first.
    if (written !== 1) throw bannedError('{}')
    const evicted = await this.#replace(uid, id, identity.provider, rule.platformCap, indexEntriesOf(indexed[1] as string[]))
    return { skey, expiresAt, session, evicted }
  }

  /**
   * The live session of an skey, or null (none, expired, or ended early):
   * from the cache when it holds it, else one Redis round trip. Renews
   * lazily. The session is read-only.
   */
  async get (skey: string): Promise<Session | null> {
    const found = await this.lookup(skey)
    return found === null || 'ended' in found ? null : found
  }

  /**
   * The read behind get(), for authenticate's hot path: a cache hit, or an
   * skey that cannot be one, answers at once, without a promise (every
   * authenticated request would otherwise pay for two); a session that ended
   * early answers why. Not for apps: get().
   */
  lookup (skey: string): Session | SessionEnd | null | Promise<Session | SessionEnd | null> {
    if (!isWellFormedSkey(skey)) return null
    const coherence = this.#coherence
    if (coherence === null) return this.#load(sessionIdOf(skey), skey)
    coherence.start()
    const now = Date.now()
    const cached = coherence.hit(skey, now)
    // Past half the idle TTL it is read again and renewed, like a miss.
    if (cached !== null && !this.#renewalDue(cached, cached.expiresAt - now, now)) return cached
    return this.#load(sessionIdOf(skey), skey)
  }

  /** One Redis round trip for session `id` (with the issued-before mark when it is not known fresh); fills the cache. (Not async: see #read.) */
  #load (id: string, skey: string): Promise<Session | SessionEnd | null> {
    const coherence = this.#coherence
    const pending = coherence?.beginRead(id, skey) ?? null
    const knownMark = coherence?.issuedBefore ?? null
    const sentAt = Date.now()
    return this.#gateway.run('session.read', (redis) => this.#read(redis, id, knownMark === null), READ_ONLY).then(
      (stored) => this.#loaded(id, stored, knownMark, sentAt, pending),
      (err: unknown) => {
        if (pending !== null) coherence!.endRead(pending, null, 0, 0)
        throw err
      })
  }

  /** What #load read, as lookup answers it; a live session fills the cache, cacheable until Redis's own expiry of the key, reckoned from `sentAt`. */
  #loaded (id: string, { read, raw, mark, size }: StoredRead, knownMark: number | null, sentAt: number, pending: PendingRead | null): Session | SessionEnd | null {
    let session: Session | null = null
    let cacheUntil = 0
    try {
      const issuedBefore = mark ?? knownMark ?? 0
      if (mark !== null) this.#coherence?.sawMark(mark)
      if (read === null) return null
      if (read.state === 'ended') return ENDS[read.reason]
      const now = Date.now()
      if (read.session.createdAt < issuedBefore) return ENDS.revoked
      if (read.session.absoluteExpiresAt <= now || read.idleExpiresAt <= now) return null
      let live = read.session
      let idleExpiresAt = read.idleExpiresAt
      if (this.#renewalDue(live, idleExpiresAt - now, now)) {
        const { ttlMs } = this.#config.ruleOf(live.provider, live.appId)
        idleExpiresAt = Math.min(now + ttlMs, live.absoluteExpiresAt)
        this.#renew(id, idleExpiresAt)
        // The reply shows the renewed expiry (a 0.1 record keeps showing its own).
        const renewed = raw === null ? null : decodeRecord(id, raw, this.#box, idleExpiresAt)
        if (renewed?.state === 'live') live = renewed.session
      }
      cacheUntil = Math.min(idleExpiresAt - (now - sentAt), live.absoluteExpiresAt)
      session = live
      return session
    } finally {
      if (pending !== null) this.#coherence!.endRead(pending, session, cacheUntil, size)
    }
  }

  /**
   * A session's record, one GET, and with it, when asked, the issued-before
   * mark: in the same command (MGET) where both keys are on one server.
   * (Not async: on the hot path each async layer is one more promise.)
   */
  #read (redis: Redis | Cluster, id: string, withMark: boolean): Promise<StoredRead> {
    if (!withMark) return this.#record(redis, id, null)
    const markKey = this.#markKey()
    // A Cluster keeps the mark and the record on different slots: two GETs, sent together.
    if (redis instanceof Cluster) {
      return Promise.all([redis.get(markKey), this.#record(redis, id, null)]).then(([mark, stored]) => {
        stored.mark = Number(mark)
        return stored
      })
    }
    return redis.mget(this.#sessionKey(id), markKey).then(([raw, mark]) =>
      // MGET answers nil for a 0.1 hash as for no key: GET tells them apart.
      raw == null ? this.#record(redis, id, Number(mark)) : this.#decoded(id, raw, Number(mark)))
  }

  /** The record as stored and as read; a 0.1 hash (GET answers WRONGTYPE) read as such. */
  #record (redis: Redis | Cluster, id: string, mark: number | null): Promise<StoredRead> {
    const key = this.#sessionKey(id)
    return redis.get(key).then((raw) => this.#decoded(id, raw, mark), async (err: Error) => {
      if (!/WRONGTYPE/.test(err.message)) throw err
      const [hash, pttl] = await Promise.all([redis.hgetall(key), redis.pttl(key)])
      return { read: decodeLegacyRecord(id, hash, pttl, Date.now(), this.#box), raw: null, mark, size: LEGACY_RECORD_BYTES }
    })
  }

  #decoded (id: string, raw: string | null, mark: number | null): StoredRead {
    return { read: decodeRecord(id, raw, this.#box), raw, mark, size: raw === null ? 0 : recordBytes(raw) }
  }

  /**
   * Renews the idle lifetime to `expiresAt`. One renewal in flight per
   * session: concurrent requests that all cross the half-TTL mark share it.
   * A tombstone or a missing key is left alone (the script): renewal never
   * revives. Its invalidation drops the cached copy everywhere: one re-read
   * per half TTL.
   */
  #renew (id: string, expiresAt: number): void {
    if (this.#renewing.has(id)) return
    this.#renewing.add(id)
    this.#gateway.run('session.renew', () => this.#scripts.renew(this.#sessionKey(id), expiryDigits(expiresAt), String(Math.floor(expiresAt))))
      .catch(this.#wiring.onBackgroundError)
      // Readers whose GET left before the renewal landed still see the old
      // expiry: they may arrive up to a store timeout later. (Half a TTL later
      // the next renewal is due anyway.)
      .finally(() => setTimeout(() => this.#renewing.delete(id), Math.min(this.storeTimeoutMs, this.ttlMs / 2)).unref())
  }

  /**
   * Renew once half the idle TTL is spent, when renewing gains something:
   * at most one write per half TTL. Near the absolute expiry the last renewal
   * reaches exactly it, so a session in use lives its whole maxAge; after
   * that nothing is gained and nothing is written.
   */
  #renewalDue (session: Session, idleLeftMs: number, now: number): boolean {
    const { ttlMs } = this.#config.ruleOf(session.provider, session.appId)
    const gain = Math.min(ttlMs, session.absoluteExpiresAt - now) - idleLeftMs
    return idleLeftMs <= ttlMs / 2 && gain > Math.min(1000, ttlMs / 10)
  }

  /**
   * Revokes one session (by skey, or by id with its user's id) or every
   * session of a user (but `except`), on every instance; once acknowledged, reports the
   * revoked ones with `options.reason` ('admin' by default). Answers the ids
   * it revoked.
   */
  async revoke (target: RevokeTarget, options?: RevokeOptions): Promise<string[]>
  /** @deprecated Use `revoke({ skey })`, which answers the revoked ids. */
  async revoke (skey: string): Promise<boolean>
  async revoke (target: RevokeTarget | string, { reason = 'admin', request, last }: RevokeOptions = {}): Promise<string[] | boolean> {
    if (typeof target === 'string') return (await this.revoke({ skey: target })).length > 0
    let revoked: string[]
    let userId: string | undefined
    if ('skey' in target) {
      revoked = isWellFormedSkey(target.skey) ? await this.#revokeOne(null, sessionIdOf(target.skey), reason) : []
    } else {
      userId = String(target.userId)
      revoked = 'sessionId' in target ? await this.#revokeOne(userId, target.sessionId, reason) : await this.#revokeAll(userId, reason, target.except, last)
    }
    this.#reported({ reason, sessionIds: revoked, ...(userId === undefined ? {} : { userId }) }, request)
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

  /**
   * Bans a user: every session ends at once (on every instance, reported as
   * 'ban'), and their logins answer 403 MPA_USER_BANNED until `unban`, or
   * until `until`. Answers the ids of the sessions it ended.
   */
  async ban (userId: string | number, { until, reason }: BanOptions = {}): Promise<string[]> {
    const uid = String(userId)
    const untilMs = until instanceof Date ? until.getTime() : until
    if (untilMs !== undefined && !(Number.isFinite(untilMs) && untilMs > Date.now())) throw new TypeError('ban: until must be a moment in the future')
    if (reason !== undefined && typeof reason !== 'string') throw new TypeError('ban: reason must be a string')
    const ban: Ban = { ...(untilMs === undefined ? {} : { until: untilMs }), ...(reason === undefined ? {} : { reason }) }
    await this.#gateway.run('session.ban', () => this.#durable.write([
      { key: this.#banKey(uid), command: 'set', args: untilMs === undefined ? [JSON.stringify(ban)] : [JSON.stringify(ban), 'PXAT', untilMs] }
    ]))
    const ended = await this.#revokeAll(uid, 'ban')
    this.#reported({ reason: 'ban', sessionIds: ended, userId: uid })
    return ended
  }

  /** Lifts a ban. True when there was one. */
  async unban (userId: string | number): Promise<boolean> {
    return await this.#gateway.run('session.unban', (redis) => redis.del(this.#banKey(String(userId)))) === 1
  }

  /** A user's ban, or null. */
  async banned (userId: string | number): Promise<Ban | null> {
    const raw = await this.#gateway.run('session.banned', (redis) => redis.get(this.#banKey(String(userId))))
    return raw === null ? null : JSON.parse(raw) as Ban
  }

  /**
   * Rewrites the user of every live session of `userId` (a patch merged over
   * it, or a function of it; the id cannot change), each atomically; every
   * instance's cache sees it on its next request. Answers how many sessions
   * were updated.
   */
  async updateUser (userId: string | number, update: UserUpdate): Promise<number> {
    if (typeof update !== 'function' && (typeof update !== 'object' || update === null)) throw new TypeError('updateUser: pass a patch object or a function of the user')
    const uid = String(userId)
    const entries = await this.#gateway.run('session.list', (redis) => this.#entries(redis, uid))
    this.#coherence?.forget(entries.map(({ id }) => id))
    const updated = await Promise.all(entries.map((entry) => this.#updateOne(entry.id, uid, update)))
    const count = updated.filter(Boolean).length
    if (count > 0) await this.#acknowledged()
    return count
  }

  async #updateOne (id: string, uid: string, update: UserUpdate): Promise<boolean> {
    const key = this.#sessionKey(id)
    for (let attempt = 0; attempt < USER_UPDATE_TRIES; attempt++) {
      const { read, raw } = await this.#gateway.run('session.read', (redis) => this.#record(redis, id, null))
      if (read?.state !== 'live' || userIdOf(read.session.user) !== uid) return false
      const user = typeof update === 'function' ? update(read.session.user) : { ...read.session.user, ...update }
      // A 0.1 hash (raw null) takes the user as JSON; a record, the whole record rewritten.
      const next = raw === null ? '' : withUser(raw, user) ?? ''
      const written = await this.#gateway.run('session.update', () => this.#scripts.setUser(key, raw ?? '', next, JSON.stringify(user)))
      if (written === 1) return true
    }
    throw new Error(`updateUser: session ${id} kept changing under ${USER_UPDATE_TRIES} tries`)
  }

  /**
   * Ends every session issued before `at` (default now), on every instance
   * at once: for after a snapshot restore brought back sessions that had
   * ended. Checked on each read, at no cost on a cache hit (the cache is
   * emptied when it moves). Answers the mark now in force.
   */
  async revokeIssuedBefore (at: number | Date = Date.now()): Promise<number> {
    const ms = at instanceof Date ? at.getTime() : at
    if (!Number.isFinite(ms)) throw new TypeError('revokeIssuedBefore: pass a moment (epoch ms or a Date)')
    const [mark] = await this.#gateway.run('issued-before.raise', () => this.#durable.write([{ key: this.#markKey(), command: this.#scripts.raiseMark.command, args: [String(Math.floor(ms))] }]))
    await this.#acknowledged()
    this.#wiring.log.warn({ issuedBefore: new Date(Number(mark)).toISOString() }, 'every session issued before this moment has ended, on every instance')
    return Number(mark)
  }

  /** The live sessions of a user, newest first. Prunes dead index entries. */
  async list (userId: string | number): Promise<Session[]> {
    const uid = String(userId)
    return this.#gateway.run('session.list', async (redis) => {
      const entries = await this.#entries(redis, uid)
      const [reads, mark] = await Promise.all([
        Promise.all(entries.map(({ id }) => this.#read(redis, id, false))),
        redis.get(this.#markKey()).then(Number)
      ])
      const now = Date.now()
      const dead = entries.filter(({ createdAt }, i) => reads[i]!.read?.state !== 'live' && this.#isStale(createdAt, now))
      if (dead.length > 0) await this.#prune(redis, uid, dead)
      return reads
        .flatMap(({ read }) => read?.state === 'live' && read.session.createdAt >= mark && read.idleExpiresAt > now ? [read.session] : [])
        .sort((a, b) => b.createdAt - a.createdAt)
    })
  }

  /**
   * Ends one session, if it is `uid`'s (any user's when null): the record
   * proves ownership, the index may lag. A session that has ended already
   * has its tombstone made durable again: a retry after a 503 must not
   * acknowledge a tombstone a failover could still take back.
   */
  async #revokeOne (uid: string | null, id: string, reason: RevokeReason): Promise<string[]> {
    const { read } = await this.#gateway.run('session.read', (redis) => this.#read(redis, id, false))
    if (read?.state === 'ended') {
      await this.#gateway.run('session.end', () => this.#durable.write([this.#endWrite(id, END_OF[reason], false)]))
      return []
    }
    if (read?.state !== 'live') return []
    const owner = userIdOf(read.session.user)
    if (uid !== null && owner !== uid) return []
    const entry = { id, provider: read.session.provider, createdAt: read.session.createdAt, member: indexMember(id, read.session.provider) }
    return (await this.#endEntries(owner, [entry], reason, false)).ids
  }

  /**
   * Ends every session in the user's index (for a ban, blocking the logins
   * still writing theirs), and the latest session_keys of their openids,
   * which nothing needs any more.
   */
  async #revokeAll (uid: string, reason: RevokeReason, except?: string, last?: string): Promise<string[]> {
    const entries = (await this.#gateway.run('session.list', (redis) => this.#entries(redis, uid))).filter(({ id }) => id !== except)
    const { ids, records } = await this.#endEntries(uid, entries.filter(({ id }) => id !== last), reason, reason === 'ban')
    const lastOne = await this.#endEntries(uid, entries.filter(({ id }) => id === last), reason, false)
    ids.push(...lastOne.ids)
    records.push(...lastOne.records)
    const latestKeys = new Set(records.flatMap(({ provider, appId, openId }) => openId ? [latestSessionKeyOf(this.#gateway, provider, appId, openId)] : []))
    if (latestKeys.size > 0) await this.#gateway.run('session-key.forget', (redis) => Promise.all([...latestKeys].map((key) => redis.del(key))))
    return ids
  }

  /**
   * Ends sessions of one user: tombstones (durable), then their index
   * entries, which stay until the tombstones are: a retry after a 503 finds
   * them and writes the tombstones again. Acknowledged once no instance can
   * still answer from a copy. `blockYoung`: also tombstone the young entries
   * with no record yet (a login writing it right now then fails). Answers the
   * ids of the live sessions it ended, and what their records said.
   */
  async #endEntries (uid: string, entries: IndexEntry[], reason: RevokeReason, blockYoung: boolean): Promise<{ ids: string[], records: Session[] }> {
    if (entries.length === 0) return { ids: [], records: [] }
    const now = Date.now()
    this.#coherence?.forget(entries.map(({ id }) => id))
    const ended = await this.#gateway.run('session.end', () => this.#durable.write(
      entries.map(({ id, createdAt }) => this.#endWrite(id, END_OF[reason], blockYoung && !this.#isStale(createdAt, now)))
    ))
    await this.#gateway.run('session.prune', (redis) => this.#prune(redis, uid, entries))
    const revoked = entries.filter((_entry, i) => ended[i] !== 0)
    const records = revoked.flatMap(({ id }, i) => {
      const record = ended[entries.indexOf(revoked[i]!)]
      const read = typeof record === 'string' ? decodeRecord(id, record, this.#box) : null
      return read?.state === 'live' ? [read.session] : []
    })
    await this.#acknowledged()
    return { ids: revoked.map(({ id }) => id), records }
  }

  /** The durable write that ends session `id` (see END_SESSION). */
  #endWrite (id: string, reason: SessionEndReason, blockYoung: boolean): Write {
    return { key: this.#sessionKey(id), command: this.#scripts.end.command, args: [tombstone(reason), String(this.#config.tombstoneTtlMs), String(Date.now()), blockYoung ? '1' : '0'] }
  }

  /**
   * After a login: the user's live sessions beyond its platform's cap and
   * beyond maxPerUser are replaced (reported as 'cap'); dead entries pruned.
   */
  async #replace (uid: string, created: string, provider: string, platformCap: number, entries: IndexEntry[]): Promise<string[]> {
    const others = entries.filter(({ id }) => id !== created)
    const sameProvider = others.filter((entry) => entry.provider === provider).length
    if (others.length + 1 <= this.maxPerUser && sameProvider + 1 <= platformCap) return []
    // Over a cap: which of them still live decides (a dead entry takes no room).
    const reads = await this.#gateway.run('session.list', (redis) => Promise.all(others.map(({ id }) => this.#read(redis, id, false))))
    const now = Date.now()
    const live = others.filter((_entry, i) => reads[i]!.read?.state === 'live')
    const replaced = replacedBy(live, provider, platformCap, this.maxPerUser)
    const dead = others.filter(({ createdAt }, i) => reads[i]!.read?.state !== 'live' && this.#isStale(createdAt, now))
    if (dead.length > 0) await this.#gateway.run('session.prune', (redis) => this.#prune(redis, uid, dead))
    if (replaced.length === 0) return []
    const { ids } = await this.#endEntries(uid, replaced, 'cap', false)
    this.#reported({ reason: 'cap', sessionIds: ids, userId: uid })
    return ids
  }

  /** The user's index entries, oldest first (0.1's index too, while it lasts). */
  async #entries (redis: Redis | Cluster, uid: string): Promise<IndexEntry[]> {
    const [current, legacy] = await Promise.all([
      redis.zrange(this.#indexKey(uid), '0', '-1', 'WITHSCORES'),
      redis.zrange(this.#legacyIndexKey(uid), '0', '-1', 'WITHSCORES')
    ])
    return [...indexEntriesOf(current), ...indexEntriesOf(legacy)].sort((a, b) => a.createdAt - b.createdAt)
  }

  async #prune (redis: Redis | Cluster, uid: string, dead: IndexEntry[]): Promise<void> {
    await Promise.all([
      redis.zrem(this.#indexKey(uid), ...dead.map(({ member }) => member)),
      redis.zrem(this.#legacyIndexKey(uid), ...dead.map(({ id }) => id))
    ])
  }

  /**
   * A write is acknowledged once `lease` has passed since its reply: by then
   * every instance that still answers from its cache has read the write's
   * invalidation (store/invalidations.ts). Without a cache anywhere, at once.
   */
  async #acknowledged (): Promise<void> {
    const leaseMs = this.#config.cache?.leaseMs
    if (leaseMs !== undefined) await new Promise((resolve) => setTimeout(resolve, leaseMs + 1))
  }

  #reported (event: RevokeEvent, request?: RevokeOptions['request']): void {
    if (event.sessionIds.length > 0) this.#wiring.report(event, request)
  }

  #isStale (createdAt: number, now: number): boolean {
    return now - createdAt > this.storeTimeoutMs + STALE_SLACK_MS
  }

  #sessionKey (id: string): string {
    return this.#sessionKeyPrefix + id
  }

  #indexKey (uid: string): string {
    return this.#gateway.key('u', `{${uid}}`)
  }

  #legacyIndexKey (uid: string): string {
    return this.#gateway.key('u', uid)
  }

  #banKey (uid: string): string {
    return this.#gateway.key('ban', `{${uid}}`)
  }

  #markKey (): string {
    return this.#gateway.key('ctl', 'issued-before')
  }
}

/**
 * Redis ran the work after its deadline, yet its answer reached us in time:
 * its clock runs ahead of ours by more than the store timeout.
 */
function lateError (): Error {
  return new StoreUnavailableError({ cause: new Error('Redis ran a write past its deadline: its clock runs ahead of this server\'s by more than session.storeTimeout') })
}

function bannedError (raw: string): Error {
  let ban: Ban = {}
  try {
    ban = JSON.parse(raw) as Ban
  } catch {}
  return new UserBannedError(ban.until === undefined ? '' : ` until ${new Date(ban.until).toISOString()}`)
}
