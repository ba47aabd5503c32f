import { randomUUID } from 'node:crypto'
import type { SecretBox } from '../lib/secret-box.js'
import type { RedisGateway, Script } from './gateway.js'

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
 * the one instance fetching the next, and `wechat:token-forced:<appId>` marks
 * a forced refresh made in the last interval (WeChat allows about 20 a day,
 * 30 s apart, and each one kills the token every other holder of the AppID has).
 * The token is sealed with the app's keys: whoever holds it acts as the app.
 */
export class WechatTokenRecords {
  readonly #releaseLock: Script

  constructor (private readonly gateway: RedisGateway, private readonly box: SecretBox) {
    this.#releaseLock = gateway.script('ReleaseTokenLock', 1, RELEASE_LOCK)
  }

  /** The shared token, or null (none, or sealed with a key this instance lacks: fetched anew). */
  async read (appId: string): Promise<CachedToken | null> {
    const key = this.#tokenKey(appId)
    const raw = await this.gateway.run('wechat-token.read', (redis) => redis.get(key))
    const opened = raw === null ? null : this.box.open(raw, key)
    return opened === null ? null : JSON.parse(opened) as CachedToken
  }

  async write (appId: string, cached: CachedToken): Promise<void> {
    const key = this.#tokenKey(appId)
    await this.gateway.run('wechat-token.write', (redis) => redis.set(key, this.box.seal(JSON.stringify(cached), key), 'PXAT', cached.expiresAt))
  }

  /** The lock's id when this instance got it, else null. */
  async lock (appId: string, lockMs: number): Promise<string | null> {
    const lockId = randomUUID()
    // PXAT: a lock that ioredis resends after an outage expires when it would have.
    const locked = await this.gateway.run('wechat-token.lock', (redis) => redis.set(this.#lockKey(appId), lockId, 'PXAT', Date.now() + lockMs, 'NX'))
    return locked === 'OK' ? lockId : null
  }

  /** Releases the lock if it is still ours. */
  async unlock (appId: string, lockId: string): Promise<void> {
    await this.gateway.run('wechat-token.unlock', () => this.#releaseLock(this.#lockKey(appId), lockId)).catch(() => {})
  }

  /**
   * True when this instance may force a refresh now: no instance sharing this
   * Redis and prefix has forced one in the last `intervalMs`. The mark is kept
   * whatever the forced call gives: WeChat may have done it even if its answer
   * was lost.
   */
  async claimForcedRefresh (appId: string, intervalMs: number): Promise<boolean> {
    // PXAT, as the lock: a copy that ioredis resends after an outage expires when the first would have.
    const claimed = await this.gateway.run('wechat-token.force', (redis) => redis.set(this.#forcedKey(appId), String(Date.now()), 'PXAT', Date.now() + intervalMs, 'NX'))
    return claimed === 'OK'
  }

  #tokenKey (appId: string): string {
    return this.gateway.key('wechat', 'token', appId)
  }

  #lockKey (appId: string): string {
    return this.gateway.key('wechat', 'token-lock', appId)
  }

  #forcedKey (appId: string): string {
    return this.gateway.key('wechat', 'token-forced', appId)
  }
}
