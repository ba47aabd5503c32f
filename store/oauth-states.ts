import { randomBytes } from 'node:crypto'
import { sha256Base64url } from '../lib/hash.js'
import type { RedisGateway } from './gateway.js'

/** What an OAuth `state` stands for between the authorize redirect and the callback. */
export interface OAuthState {
  /** The login it was made for ('wechat-oa'…): a state of one surface is no state at another's callback. */
  provider: string
  appId: string
  /** sha256 of the browser-binding nonce: the nonce itself never reaches Redis. */
  browser: string
  /** Where the browser goes afterwards, checked against the allow-list when the state was made. */
  redirect: string
}

// 128 random bits, base64url: what WeChat carries back unchanged (it allows [a-zA-Z0-9] and more, up to 128 bytes).
const STATE_BYTES = 16

/**
 * OAuth states: single-use (GETDEL), short-lived, and kept under a hash of
 * the state, so a dump of Redis gives none that a callback would take.
 */
export class OAuthStates {
  constructor (private readonly gateway: RedisGateway, private readonly ttlMs: number) {}

  async create (state: OAuthState): Promise<string> {
    const value = randomBytes(STATE_BYTES).toString('base64url')
    await this.gateway.run('oauth.state', (redis) => redis.set(this.#key(value), JSON.stringify(state), 'PX', this.ttlMs))
    return value
  }

  /** The state's record, once: a second take, or one after its lifetime, finds nothing. */
  async take (value: string): Promise<OAuthState | null> {
    const found = await this.gateway.run('oauth.take', (redis) => redis.getdel(this.#key(value)))
    return found === null ? null : JSON.parse(found) as OAuthState
  }

  #key (value: string): string {
    return this.gateway.key('oauth', sha256Base64url(value))
  }
}
