import type { Cluster, Redis } from 'ioredis'
import type { Session } from '../types.js'
import { InvalidationListener } from './invalidations.js'
import { SessionCache, type PendingRead } from './session-cache.js'

// What makes the session cache safe to answer from, and what a revocation
// must wait for before it is acknowledged: the cache itself, the per-node
// invalidation connections and their lease (store/invalidations.ts), and the
// operator's "issued before" mark, which every instance must know as fresh as
// its cache. Used by store/sessions.ts; talks to Redis only through the
// invalidation connections and the `readMark` it is given.

export interface CoherenceOptions {
  /** The session keys' prefix and the mark's key, as Redis names them (with the client's own keyPrefix). */
  sessionPrefix: string
  markKey: string
  maxEntries: number
  maxBytes: number
  leaseMs: number
  heartbeatMs: number
}

export interface CoherenceHooks {
  /** Reads the issued-before mark from Redis (0 when none). */
  readMark: () => Promise<number>
  /** The cache went on or off, and why. */
  readiness: (ready: boolean, reason: string) => void
  /** A node's heartbeat went unanswered: Redis may be frozen. */
  suspect: (reason: string) => void
}

export class Coherence {
  readonly #cache: SessionCache
  readonly #invalidations: InvalidationListener
  /** Sessions created before this (epoch ms) are over; known as fresh as the cache only when `#markKnown`. */
  #issuedBefore = 0
  #markKnown = false
  #markReads = 0

  constructor (redis: Redis | Cluster, private readonly options: CoherenceOptions, private readonly hooks: CoherenceHooks) {
    const cache = new SessionCache(options)
    this.#cache = cache
    const { sessionPrefix, markKey } = options
    this.#invalidations = new InvalidationListener(redis, { prefixes: [sessionPrefix, markKey], leaseMs: options.leaseMs, heartbeatMs: options.heartbeatMs }, {
      invalidate: (keys) => {
        for (const key of keys) {
          if (key.startsWith(sessionPrefix)) cache.invalidate(key.slice(sessionPrefix.length))
          else if (key === markKey) this.#markChanged()
        }
      },
      flush: () => {
        cache.flush()
        this.#markChanged()
      },
      readiness: (ready, reason) => {
        if (ready) this.#markChanged()
        hooks.readiness(ready, reason)
      },
      suspect: hooks.suspect
    })
  }

  /** Opens the invalidation connections (the first read does it too). */
  start (): void {
    this.#invalidations.start()
  }

  close (): void {
    this.#invalidations.close()
  }

  /** Whether the cache and the mark may be trusted now: every node tracked, its lease running, the mark read since. */
  get fresh (): boolean {
    return this.#markKnown && performance.now() < this.#invalidations.freshUntil()
  }

  /** The issued-before mark, when it is known as fresh as the cache; else null, and a read must fetch it. */
  get issuedBefore (): number | null {
    return this.fresh ? this.#issuedBefore : null
  }

  /** A mark read along with a session: it can only have grown. */
  sawMark (issuedBefore: number): void {
    if (issuedBefore > this.#issuedBefore) {
      this.#issuedBefore = issuedBefore
      this.#cache.flush()
    }
  }

  /** The cached session of `skey`, when the lease vouches for the cache; else null. */
  hit (skey: string, now: number): Session | null {
    if (!this.fresh) return null
    return this.#cache.get(skey, now)
  }

  beginRead (id: string, skey: string): PendingRead {
    return this.#cache.beginRead(id, skey)
  }

  endRead (read: PendingRead, session: Session | null, expiresAt: number, bytes: number): void {
    this.#cache.endRead(read, session, expiresAt, bytes)
  }

  /** This instance forgets sessions it is about to change; the others hear it from Redis. */
  forget (ids: string[]): void {
    for (const id of ids) this.#cache.invalidate(id)
  }

  /**
   * The mark changed, or may have: unknown until read again. Reads that
   * overlap are numbered, so only the latest sets it.
   */
  #markChanged (): void {
    this.#markKnown = false
    const read = ++this.#markReads
    this.hooks.readMark().then((issuedBefore) => {
      if (read !== this.#markReads) return
      this.sawMark(issuedBefore)
      this.#markKnown = true
    }, () => {
      // Still unknown: the next invalidation, reconnection or confirmation reads it again.
    })
  }
}
