import type { Cluster, Redis } from 'ioredis'
import { StoreUnavailableError } from '../errors.js'

// Client states of a lost connection: a command would wait in ioredis's
// offline queue and run when Redis is back, long after we answered 503.
// (A client still connecting for the first time is given its chance.)
const LOST_STATUS = new Set(['reconnecting', 'close', 'end', 'disconnecting'])

/**
 * The one door to Redis: every store module sends its commands through it, so
 * each gets the key prefix, the deadline and the lost-connection guard.
 */
export class RedisGateway {
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
   * Runs Redis work with a deadline: a Redis that is down or slow becomes a 503
   * within the store timeout instead of a hanging request. A client that lost
   * its connection gets no command at all: ioredis would queue it and send it
   * when Redis is back, long after we answered. Multi-step work calls
   * `checkpoint()` between steps, so what was abandoned at the deadline goes
   * no further.
   */
  async run<T> (work: (redis: Redis | Cluster, checkpoint: () => void) => Promise<T>): Promise<T> {
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
      }, this.timeoutMs)
    })
    const running = (async () => work(this.redis, checkpoint))()
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
}

/** The replies of a MULTI or pipeline; the first failed command fails the whole. */
export function resultsOf (results: Array<[Error | null, unknown]> | null): unknown[] {
  if (results === null) throw new StoreUnavailableError() // a MULTI discarded by Redis
  for (const [err] of results) if (err) throw err
  return results.map(([, value]) => value)
}
