import { randomUUID } from 'node:crypto'
import type { SecretBox } from '../lib/secret-box.js'
import type { RedisGateway, Script } from './gateway.js'
import type { CachedToken } from './wechat-tokens.js'

/** An app-level token (WeCom's corp access_token, Douyin's client_token) as every instance shares it: WeChat's shape. */
export type SharedToken = CachedToken

// Deletes the renewal claim only while it is still the caller's.
const END_RENEWAL = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

/**
 * The shared tokens of one platform, by a key of the provider's choosing:
 * `<platform>:token:<key>` holds the token, sealed with the app's keys
 * (whoever holds it acts as the app), and `<platform>:token-renewal:<key>`
 * names the one instance fetching the next (each fetch may revoke the token
 * before it, so only one instance fetches at a time).
 */
export class PlatformTokenRecords {
  readonly #endRenewal: Script

  constructor (private readonly gateway: RedisGateway, private readonly box: SecretBox, private readonly platform: string) {
    this.#endRenewal = gateway.script('EndTokenRenewal', 1, END_RENEWAL)
  }

  /** The shared token, or null (none, or sealed with a key this instance lacks: fetched anew). */
  async read (key: string): Promise<SharedToken | null> {
    const name = this.#key('token', key)
    const stored = await this.gateway.run(`${this.platform}-token.read`, (redis) => redis.get(name))
    const opened = stored === null ? null : this.box.open(stored, name)
    return opened === null ? null : JSON.parse(opened) as SharedToken
  }

  async write (key: string, shared: SharedToken): Promise<void> {
    const name = this.#key('token', key)
    await this.gateway.run(`${this.platform}-token.write`, (redis) => redis.set(name, this.box.seal(JSON.stringify(shared), name), 'PXAT', shared.expiresAt))
  }

  /** The renewal's id when this instance may fetch the next token, else null (another one is fetching). */
  async claimRenewal (key: string, forMs: number): Promise<string | null> {
    const id = randomUUID()
    // PXAT: a claim that ioredis resends after an outage lapses when the first would have.
    const claimed = await this.gateway.run(`${this.platform}-token.claim`, (redis) => redis.set(this.#key('token-renewal', key), id, 'PXAT', Date.now() + forMs, 'NX'))
    return claimed === 'OK' ? id : null
  }

  /** Ends a renewal, if it is still this one; a failure here only lets the claim lapse on its own. */
  async endRenewal (key: string, id: string): Promise<void> {
    await this.gateway.run(`${this.platform}-token.release`, () => this.#endRenewal(this.#key('token-renewal', key), id)).catch(() => {})
  }

  #key (kind: string, key: string): string {
    return this.gateway.key(this.platform, kind, key)
  }
}
