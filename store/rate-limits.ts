import { sha256Base64url } from '../lib/hash.js'
import type { RedisGateway, Script } from './gateway.js'

// Fixed window: the first hit of a window starts its lifetime. A counter
// that somehow lost its lifetime gets it back, so no client is locked out.
const INCREMENT = `
local current = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if current == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { current, ttl }
`

type Callback = (error: Error | null, result?: { current: number, ttl: number }) => void

/**
 * Login rate-limit counters shared by every instance, as a store for
 * @fastify/rate-limit: `rl:<hash of the client key>`. Through the gateway,
 * so a Redis outage is a 503 within the store timeout, never a hang.
 */
export class RateLimitCounters {
  readonly #increment: Script

  constructor (private readonly gateway: RedisGateway) {
    this.#increment = gateway.script('CountLogin', 1, INCREMENT)
  }

  incr (key: string, callback: Callback, timeWindow: number): void {
    const redisKey = this.gateway.key('rl', sha256Base64url(key))
    this.gateway.run('rate-limit.count', () => this.#increment(redisKey, String(timeWindow)) as Promise<[number, number]>)
      .then(([current, ttl]) => callback(null, { current, ttl }), callback)
  }

  /** Every login route counts against the same window. */
  child (): RateLimitCounters {
    return this
  }
}
