import { setTimeout as sleep } from 'node:timers/promises'
import { LoginInProgressError } from '../errors.js'
import { sha256Base64url } from '../lib/hash.js'
import { seal, unseal } from '../lib/seal.js'
import type { RedisGateway } from './gateway.js'

const PENDING = 'pending'
const POLL_MS = 50

/** A login code this instance may exchange, or the answer of the login that already did. */
export type CodeClaim =
  | { claimed: true, key: string, code: string, context: string }
  | { claimed: false, replay: string }

/**
 * At most one exchange per login code across every instance: `code:<hash>`
 * holds 'pending' while a login runs, then its answer sealed under the code
 * (only someone who has the code can read it back), for the replay window.
 */
export class CodeClaims {
  constructor (private readonly gateway: RedisGateway, private readonly replayWindowMs: number) {}

  /**
   * Claims `code` (within `context`, such as 'wechat:<appId>') for one login.
   * When another login holds it, waits for its answer up to `pendingMs`, the
   * longest a login may hold a code, then answers 409.
   */
  async claim (context: string, code: string, pendingMs: number): Promise<CodeClaim> {
    // The key is a hash of the code; the answer is sealed under the code itself.
    const key = this.gateway.key('code', sha256Base64url(`${context}:${code}`))
    const waitUntil = Date.now() + pendingMs
    for (;;) {
      // The claim dies at our own deadline unless we confirm it: a claim that
      // ioredis resends after an outage (when we had long answered 503) must
      // not block the client's retry.
      const claimed = await this.gateway.run((redis) => redis.set(key, PENDING, 'PXAT', Date.now() + this.gateway.timeoutMs, 'NX'))
      if (claimed === 'OK') {
        await this.gateway.run((redis) => redis.pexpire(key, pendingMs))
        return { claimed: true, key, code, context }
      }
      const box = await this.gateway.run((redis) => redis.get(key))
      const replay = box !== null && box !== PENDING ? unseal(box, code, context) : null
      if (replay !== null) return { claimed: false, replay }
      if (Date.now() >= waitUntil) throw new LoginInProgressError()
      await sleep(POLL_MS)
    }
  }

  /** Keeps the login's answer for replays of its code. */
  async settle (claim: CodeClaim & { claimed: true }, answer: string): Promise<void> {
    const box = seal(answer, claim.code, claim.context)
    await this.gateway.run((redis) => redis.set(claim.key, box, 'PX', this.replayWindowMs, 'XX'))
  }

  /** A failed login leaves no claim behind: a retry may try again. */
  async release (claim: CodeClaim & { claimed: true }): Promise<void> {
    await this.gateway.run((redis) => redis.del(claim.key)).catch(() => {})
  }
}
