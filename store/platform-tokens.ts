import { randomUUID } from 'node:crypto'
import type { RedisGateway, Script } from './gateway.js'

/** An app-level token (WeCom's corp access_token, Douyin's client_token) as every instance shares it. */
export interface SharedToken {
  token: string
  expiresAt: number
  /** From then on, one instance fetches the next token. */
  renewAt: number
}

// Deletes the renewal lock only while it is still the caller's.
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

/**
 * The shared tokens of one platform, by a key of the provider's choosing:
 * `<platform>:token:<key>` holds the token, `<platform>:token-renewal:<key>`
 * names the one instance fetching the next (each fetch may revoke the token
 * before it, so only one instance fetches at a time).
 */
export class PlatformTokenRecords {
  readonly #release: Script

  constructor (private readonly gateway: RedisGateway, private readonly platform: string) {
    this.#release = gateway.script('ReleaseRenewal', 1, RELEASE)
  }

  async read (key: string): Promise<SharedToken | null> {
    const raw = await this.gateway.run(`${this.platform}-token.read`, (redis) => redis.get(this.#key('token', key)))
    return raw === null ? null : JSON.parse(raw) as SharedToken
  }

  async write (key: string, shared: SharedToken): Promise<void> {
    await this.gateway.run(`${this.platform}-token.write`, (redis) => redis.set(this.#key('token', key), JSON.stringify(shared), 'PXAT', shared.expiresAt))
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
    await this.gateway.run(`${this.platform}-token.release`, () => this.#release(this.#key('token-renewal', key), id)).catch(() => {})
  }

  #key (kind: string, key: string): string {
    return this.gateway.key(this.platform, kind, key)
  }
}
