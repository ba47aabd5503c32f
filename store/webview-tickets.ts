import { randomBytes } from 'node:crypto'
import { sha256Base64url } from '../lib/hash.js'
import type { SecretBox } from '../lib/secret-box.js'
import type { RedisGateway } from './gateway.js'

/**
 * One-time tickets that carry a mini-program session into its web-view: the
 * skey is kept under the sha256 of a random ticket id, sealed with the app's
 * keys, and taken once (GETDEL), so a ticket in a URL is spent by its first
 * use and dead within seconds; the skey itself never appears in a URL.
 */
export class WebviewTickets {
  constructor (private readonly gateway: RedisGateway, private readonly box: SecretBox) {}

  async issue (skey: string, ttlMs: number): Promise<{ ticket: string, expiresAt: number }> {
    const ticket = randomBytes(16).toString('base64url')
    const key = this.#key(ticket)
    const expiresAt = Date.now() + ttlMs
    await this.gateway.run('webview-ticket.issue', (redis) => redis.set(key, this.box.seal(skey, key), 'PXAT', expiresAt))
    return { ticket, expiresAt }
  }

  /** The ticket's skey, once; null for a ticket unknown, spent or expired (or sealed with a key this instance lacks). */
  async redeem (ticket: string): Promise<string | null> {
    const key = this.#key(ticket)
    const sealed = await this.gateway.run('webview-ticket.redeem', (redis) => redis.getdel(key))
    return sealed === null ? null : this.box.open(sealed, key)
  }

  #key (ticket: string): string {
    return this.gateway.key('webview', sha256Base64url(ticket))
  }
}
