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
 * have not changed (store/invalidations.ts keeps it coherent). Oldest first
 * out, bounded in entries and bytes. Pure bookkeeping: no I/O.
 */
export class SessionCache {
  readonly #entries = new Map<string, Entry>()
  readonly #pending = new Map<string, PendingRead[]>()
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

  /** The session, while it has not expired by the clock. */
  get (id: string, now: number): Session | null {
    const entry = this.#entries.get(id)
    if (entry === undefined) return null
    if (now >= entry.expiresAt || now >= entry.session.absoluteExpiresAt) {
      this.#drop(id, entry)
      return null
    }
    return entry.session
  }

  /** Marks a read from Redis as begun: an invalidation of its id until it ends keeps it out of the cache. */
  beginRead (id: string): PendingRead {
    const read: PendingRead = { id, generation: this.#generation, invalidated: false }
    const reads = this.#pending.get(id)
    if (reads === undefined) this.#pending.set(id, [read])
    else reads.push(read)
    return read
  }

  /** Ends a read; keeps its session unless it was invalidated meanwhile. `session` null: there was none. */
  endRead (read: PendingRead, session: Session | null, expiresAt: number, bytes: number): void {
    const reads = this.#pending.get(read.id)
    if (reads !== undefined) {
      const remaining = reads.filter((other) => other !== read)
      if (remaining.length === 0) this.#pending.delete(read.id)
      else this.#pending.set(read.id, remaining)
    }
    if (session === null || read.invalidated || read.generation !== this.#generation || bytes > MAX_ENTRY_BYTES) return
    this.#store(read.id, { session, expiresAt, bytes })
  }

  /** Redis said the key changed (written, renewed, deleted, expired or evicted). */
  invalidate (id: string): void {
    const entry = this.#entries.get(id)
    if (entry !== undefined) this.#drop(id, entry)
    for (const read of this.#pending.get(id) ?? []) read.invalidated = true
  }

  /** Forgets everything, and every read in flight. */
  flush (): void {
    this.#entries.clear()
    this.#bytes = 0
    this.#generation++
  }

  #store (id: string, entry: Entry): void {
    const previous = this.#entries.get(id)
    if (previous !== undefined) this.#drop(id, previous)
    this.#entries.set(id, entry)
    this.#bytes += entry.bytes
    for (const [oldId, oldest] of this.#entries) {
      if (this.#entries.size <= this.options.maxEntries && this.#bytes <= this.options.maxBytes) break
      this.#drop(oldId, oldest)
    }
  }

  #drop (id: string, entry: Entry): void {
    this.#entries.delete(id)
    this.#bytes -= entry.bytes
  }
}
