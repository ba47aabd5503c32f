import { randomUUID } from 'node:crypto'
import type { RedisGateway } from './gateway.js'

/** An access token as every instance shares it. */
export interface CachedToken {
  token: string
  expiresAt: number
  /** From then on, one instance fetches the next token. */
  renewAt: number
}

const RELEASE_LOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

/**
 * WeChat access tokens, one per AppID, shared by every instance:
 * `wechat:token:<appId>` holds the token, `wechat:token-lock:<appId>` names
 * the one instance fetching the next.
 */
export class WechatTokenRecords {
  constructor (private readonly gateway: RedisGateway) {}

  async read (appId: string): Promise<CachedToken | null> {
    const raw = await this.gateway.run((redis) => redis.get(this.#tokenKey(appId)))
    return raw === null ? null : JSON.parse(raw) as CachedToken
  }

  async write (appId: string, cached: CachedToken): Promise<void> {
    await this.gateway.run((redis) => redis.set(this.#tokenKey(appId), JSON.stringify(cached), 'PXAT', cached.expiresAt))
  }

  /** The lock's id when this instance got it, else null. */
  async lock (appId: string, lockMs: number): Promise<string | null> {
    const lockId = randomUUID()
    // PXAT: a lock that ioredis resends after an outage expires when it would have.
    const locked = await this.gateway.run((redis) => redis.set(this.#lockKey(appId), lockId, 'PXAT', Date.now() + lockMs, 'NX'))
    return locked === 'OK' ? lockId : null
  }

  /** Releases the lock if it is still ours. */
  async unlock (appId: string, lockId: string): Promise<void> {
    await this.gateway.run((redis) => redis.eval(RELEASE_LOCK, 1, this.#lockKey(appId), lockId)).catch(() => {})
  }

  #tokenKey (appId: string): string {
    return this.gateway.key('wechat', 'token', appId)
  }

  #lockKey (appId: string): string {
    return this.gateway.key('wechat', 'token-lock', appId)
  }
}
