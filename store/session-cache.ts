import type { Session } from '../types.js'

/** A session as this instance last read it from Redis. */
interface Entry {
  session: Session
  /** Epoch ms; no later than Redis's own expiry of the key. */
  expiresAt: number
  bytes: number
}

/** A read from Redis in flight: it may fill the cache only if nothing invalidated its session meanwhile. */
export interface PendingRead {
  id: string
  skey: string
  generation: number
  invalidated: boolean
}

export interface SessionCacheOptions {
  /** Most sessions held. */
  maxEntries: number
  /** Most bytes of session records held (what Redis sent: ids, user JSON, secrets). */
  maxBytes: number
}

// A record larger than this is read from Redis every time: one oversized
// user must not push hundreds of others out.
const MAX_ENTRY_BYTES = 16 * 1024

/**
 * Sessions read from Redis, kept while Redis's invalidation messages say they
 * have not changed (store/invalidations.ts keeps it coherent). Least recently
 * used first out, bounded in entries and bytes. Pure bookkeeping: no I/O.
 *
 * Looked up by skey, so a hit costs no sha256 (a fifth of the hit path);
 * invalidations name the session id, hence the second map. The skeys it
 * holds are no more exposed than the sessions' own secrets beside them, and
 * never leave the process.
 */
export class SessionCache {
  readonly #entries = new Map<string, Entry>()
  /** The skey of each cached session id. */
  readonly #skeys = new Map<string, string>()
  /** The reads in flight of each id: nearly always one, held as itself (no array per read). */
  readonly #pending = new Map<string, PendingRead | PendingRead[]>()
  #bytes = 0
  // A flush outdates every read in flight.
  #generation = 0

  constructor (private readonly options: SessionCacheOptions) {}

  get size (): number {
    return this.#entries.size
  }

  get bytes (): number {
    return this.#bytes
  }

  /** The session of `skey`, while it has not expired by the clock; now the most recently used. */
  get (skey: string, now: number): Session | null {
    const entry = this.#entries.get(skey)
    if (entry === undefined) return null
    if (now >= entry.expiresAt || now >= entry.session.absoluteExpiresAt) {
      this.#drop(skey, entry)
      return null
    }
    // A Map iterates in insertion order: moved to the end, it goes out last.
    this.#entries.delete(skey)
    this.#entries.set(skey, entry)
    return entry.session
  }

  /** Marks a read from Redis as begun: an invalidation of its id until it ends keeps it out of the cache. */
  beginRead (id: string, skey: string): PendingRead {
    const read: PendingRead = { id, skey, generation: this.#generation, invalidated: false }
    const reads = this.#pending.get(id)
    if (reads === undefined) this.#pending.set(id, read)
    else if (Array.isArray(reads)) reads.push(read)
    else this.#pending.set(id, [reads, read])
    return read
  }

  /** Ends a read; keeps its session unless it was invalidated meanwhile. `session` null: there was none. */
  endRead (read: PendingRead, session: Session | null, expiresAt: number, bytes: number): void {
    const reads = this.#pending.get(read.id)
    if (reads === read) this.#pending.delete(read.id)
    else if (Array.isArray(reads)) {
      const others = reads.filter((other) => other !== read)
      this.#pending.set(read.id, others.length === 1 ? others[0]! : others)
    }
    if (session === null || read.invalidated || read.generation !== this.#generation || bytes > MAX_ENTRY_BYTES) return
    this.#store(read.skey, { session, expiresAt, bytes })
  }

  /** Redis said the key changed (written, renewed, deleted, expired or evicted). */
  invalidate (id: string): void {
    const skey = this.#skeys.get(id)
    const entry = skey === undefined ? undefined : this.#entries.get(skey)
    if (entry !== undefined) this.#drop(skey!, entry)
    const reads = this.#pending.get(id)
    if (Array.isArray(reads)) for (const read of reads) read.invalidated = true
    else if (reads !== undefined) reads.invalidated = true
  }

  /** Forgets everything, and every read in flight. */
  flush (): void {
    this.#entries.clear()
    this.#skeys.clear()
    this.#bytes = 0
    this.#generation++
  }

  #store (skey: string, entry: Entry): void {
    const previous = this.#entries.get(skey)
    if (previous !== undefined) this.#drop(skey, previous)
    this.#entries.set(skey, entry)
    this.#skeys.set(entry.session.id, skey)
    this.#bytes += entry.bytes
    if (this.#entries.size <= this.options.maxEntries && this.#bytes <= this.options.maxBytes) return
    // Least recently used first: the first key (keys(), not entries(): no [key, value] pair per step).
    for (const oldSkey of this.#entries.keys()) {
      if (this.#entries.size <= this.options.maxEntries && this.#bytes <= this.options.maxBytes) break
      this.#drop(oldSkey, this.#entries.get(oldSkey)!)
    }
  }

  #drop (skey: string, entry: Entry): void {
    this.#entries.delete(skey)
    this.#skeys.delete(entry.session.id)
    this.#bytes -= entry.bytes
  }
}
