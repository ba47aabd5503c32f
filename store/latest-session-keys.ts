import { sha256Base64url } from '../lib/hash.js'
import type { Provider } from '../types.js'
import type { RedisGateway } from './gateway.js'

/**
 * The latest session_key a platform issued per openid, for the platforms
 * whose every login rotates it (WeChat, QQ, Douyin):
 * `<provider>:sk:<hash of appId and openid>`, so data a client encrypted
 * after a later login still opens in an older session.
 */
export class LatestSessionKeys {
  constructor (private readonly gateway: RedisGateway, private readonly provider: Provider, private readonly lifetimeMs: number) {}

  async remember (appId: string, openId: string, sessionKey: string): Promise<void> {
    await this.gateway.run('session-key.remember', (redis) => redis.set(this.#key(appId, openId), sessionKey, 'PX', this.lifetimeMs))
  }

  async latest (appId: string, openId: string): Promise<string | null> {
    return this.gateway.run('session-key.read', (redis) => redis.get(this.#key(appId, openId)))
  }

  #key (appId: string, openId: string): string {
    return this.gateway.key(this.provider, 'sk', sha256Base64url(`${appId}:${openId}`))
  }
}
