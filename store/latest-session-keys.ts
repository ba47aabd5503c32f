import { sha256Base64url } from '../lib/hash.js'
import type { SecretBox } from '../lib/secret-box.js'
import type { Provider } from '../types.js'
import type { RedisGateway } from './gateway.js'

/**
 * The latest session_key a platform issued per openid, for the platforms
 * whose every login rotates it (WeChat, QQ, Douyin):
 * `<provider>:sk:<hash of appId and openid>`, so data a client encrypted
 * after a later login still opens in an older session. Sealed with the app's
 * keys; it lives as long as a session may, and goes when the user logs out
 * everywhere or is banned (store/sessions.ts).
 */
export class LatestSessionKeys {
  constructor (
    private readonly gateway: RedisGateway,
    private readonly box: SecretBox,
    private readonly provider: Provider,
    private readonly lifetimeMs: number
  ) {}

  async remember (appId: string, openId: string, sessionKey: string): Promise<void> {
    const key = latestSessionKeyOf(this.gateway, this.provider, appId, openId)
    await this.gateway.run('session-key.remember', (redis) => redis.set(key, this.box.seal(sessionKey, key), 'PX', this.lifetimeMs))
  }

  async latest (appId: string, openId: string): Promise<string | null> {
    const key = latestSessionKeyOf(this.gateway, this.provider, appId, openId)
    const stored = await this.gateway.run('session-key.read', (redis) => redis.get(key))
    return stored === null ? null : this.box.open(stored, key)
  }
}

/** The Redis key of an openid's latest session_key. */
export function latestSessionKeyOf (gateway: RedisGateway, provider: Provider, appId: string, openId: string): string {
  return gateway.key(provider, 'sk', sha256Base64url(`${appId}:${openId}`))
}
