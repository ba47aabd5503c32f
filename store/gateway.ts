import { createHash } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import { StoreUnavailableError } from '../errors.js'
import { publishStoreTimeout, traceStore } from '../lib/diagnostics.js'

// Client states of a lost connection: a command would wait in ioredis's
// offline queue and run when Redis is back, long after we answered 503.
// (A client still connecting for the first time is given its chance.)
const LOST_STATUS = new Set(['reconnecting', 'close', 'end', 'disconnecting'])
// How often the deadlines of work in flight are checked: a late answer is
// abandoned within this much of its deadline.
const SWEEP_MS = 25

interface InFlight {
  deadline: number
  abandoned: boolean
  reject: (err: Error) => void
}

/** A Lua script registered on the client: its keys, then its arguments. */
export type Script = (...keysThenArgs: string[]) => Promise<unknown>

/**
 * The one door to Redis: every store module sends its commands through it, so
 * each gets the key prefix, the deadline, the lost-connection guard and a
 * trace span.
 */
export class RedisGateway {
  // In start order, which is deadline order: every call has the same timeout.
  readonly #inFlight = new Set<InFlight>()
  #sweeper: NodeJS.Timeout | null = null

  constructor (
    readonly redis: Redis | Cluster,
    readonly keyPrefix: string,
    /** Longest wait for Redis before a 503. */
    readonly timeoutMs: number
  ) {}

  /** A Redis key under the prefix. */
  key (...parts: string[]): string {
    return this.keyPrefix + parts.join(':')
  }

  /**
   * A Lua script, registered once on the client (as @fastify/rate-limit
   * does): ioredis sends its SHA (EVALSHA), and its source only when Redis
   * does not know it yet. Named by its source's hash, so two versions of this
   * package on one client never share a name.
   */
  script (name: string, numberOfKeys: number, lua: string): Script {
    const command = `mpa${name}_${createHash('sha1').update(lua).digest('hex').slice(0, 8)}`
    const client = this.redis as unknown as Record<string, Script | undefined>
    if (typeof client[command] !== 'function') this.redis.defineCommand(command, { numberOfKeys, lua })
    return (...keysThenArgs) => (this.redis as unknown as Record<string, Script>)[command]!(...keysThenArgs)
  }

  /**
   * Runs Redis work with a deadline: a Redis that is down or slow becomes a 503
   * within the store timeout instead of a hanging request. A client that lost
   * its connection gets no command at all: ioredis would queue it and send it
   * when Redis is back, long after we answered. Multi-step work calls
   * `checkpoint()` between steps, so what was abandoned at the deadline goes
   * no further. One shared timer checks every deadline, not one timer a call.
   */
  run<T> (operation: string, work: (redis: Redis | Cluster, checkpoint: () => void) => Promise<T>): Promise<T> {
    if (LOST_STATUS.has(this.redis.status)) return Promise.reject(new StoreUnavailableError())
    return traceStore(operation, () => this.#deadline(work))
  }

  #deadline<T> (work: (redis: Redis | Cluster, checkpoint: () => void) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call: InFlight = { deadline: Date.now() + this.timeoutMs, abandoned: false, reject }
      this.#inFlight.add(call)
      this.#sweeper ??= setInterval(() => this.#sweep(), Math.min(SWEEP_MS, this.timeoutMs)).unref()
      const checkpoint = () => {
        if (call.abandoned) throw new StoreUnavailableError()
      }
      let running: Promise<T>
      try {
        running = work(this.redis, checkpoint)
      } catch (err) {
        running = Promise.reject(err)
      }
      running.then(
        (value) => { if (this.#inFlight.delete(call)) resolve(value) },
        // The late failure of abandoned work is of no use: it was answered already.
        (err: unknown) => { if (this.#inFlight.delete(call)) reject(storeErrorOf(err)) }
      )
    })
  }

  #sweep (): void {
    const now = Date.now()
    for (const call of this.#inFlight) {
      if (call.deadline > now) break
      this.#inFlight.delete(call)
      call.abandoned = true
      publishStoreTimeout(this.timeoutMs)
      call.reject(new StoreUnavailableError())
    }
    if (this.#inFlight.size === 0 && this.#sweeper !== null) {
      clearInterval(this.#sweeper)
      this.#sweeper = null
    }
  }
}

/** Errors of our own (already with a status) pass; Redis errors become 503. */
function storeErrorOf (err: unknown): Error {
  if (typeof (err as { statusCode?: unknown }).statusCode === 'number') return err as Error
  return new StoreUnavailableError({ cause: err })
}

/** The replies of a MULTI or pipeline; the first failed command fails the whole. */
export function resultsOf (results: Array<[Error | null, unknown]> | null): unknown[] {
  if (results === null) throw new StoreUnavailableError() // a MULTI discarded by Redis
  for (const [err] of results) if (err) throw err
  return results.map(([, value]) => value)
}
