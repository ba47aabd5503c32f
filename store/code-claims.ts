import { setTimeout as sleep } from 'node:timers/promises'
import { LoginInProgressError } from '../errors.js'
import { sha256Base64url } from '../lib/hash.js'
import { seal, unseal } from '../lib/seal.js'
import type { RedisGateway, Script } from './gateway.js'

const PENDING = 'pending'
const FAILED = 'failed:'
const POLL_MS = 50
// How long the posts that wait for a login are told its transient failure:
// they poll every 50 ms. A post that did not wait exchanges again.
const FAILURE_SHARED_MS = 1000
// Claims a code in one round trip: KEYS claim; ARGV pending marker, the
// claim's lifetime, our own deadline (epoch ms). The claim first dies at our
// deadline, and lives on only if it landed before it: a claim that ioredis
// resends after an outage (when we had long answered 503) must not block the
// client's retry. Answers {0} claimed, {2} too late, or {1, what holds it}.
const CLAIM = `
if redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[3], 'NX') then
  if redis.call('PTTL', KEYS[1]) > 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {0}
  end
  return {2}
end
return {1, redis.call('GET', KEYS[1])}
`
// Claims a failed login's key for a retry, unless another post got there first.
const RETAKE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) end return false"

/** How a login failed, as the other posts of its code are told (no secret, no internal message). */
export interface LoginFailure {
  statusCode: number
  code: string
  message: string
  /** The platform refused the code: it stays refused for the replay window. */
  refused: boolean
}

export interface ClaimedCode {
  claimed: true
  key: string
  code: string
  context: string
}

/** A login code this instance may exchange, or the outcome of the login that already did. */
export type CodeClaim =
  | ClaimedCode
  | { claimed: false, replay: string }
  | { claimed: false, failure: LoginFailure }

/**
 * At most one exchange per login code across every instance: `code:<hash>`
 * holds 'pending' while a login runs, then its answer sealed under the code
 * (only someone who has the code can read it back) for the replay window, or
 * how it failed.
 */
export class CodeClaims {
  readonly #claim: Script
  readonly #retake: Script

  constructor (private readonly gateway: RedisGateway, private readonly replayWindowMs: number) {
    this.#claim = gateway.script('ClaimCode', 1, CLAIM)
    this.#retake = gateway.script('RetakeCode', 1, RETAKE)
  }

  /**
   * Claims `code` (within `context`, such as 'wechat:<appId>') for one login.
   * When another login holds it, waits for its outcome up to `pendingMs`, the
   * longest a login may hold a code, then answers 409.
   */
  async claim (context: string, code: string, pendingMs: number): Promise<CodeClaim> {
    // The key is a hash of the code; the answer is sealed under the code itself.
    const key = this.gateway.key('code', sha256Base64url(`${context}:${code}`))
    const claimed: ClaimedCode = { claimed: true, key, code, context }
    const waitUntil = Date.now() + pendingMs
    let waited = false
    for (;;) {
      const [outcome, holder] = await this.gateway.run('code.claim', () =>
        this.#claim(key, PENDING, String(pendingMs), String(Date.now() + this.gateway.timeoutMs)) as Promise<[number, string | null]>)
      // 2, "after its deadline", reaches us only when Redis's clock runs ahead
      // of ours by more than the store timeout (else the gateway had answered
      // 503): the claim expired at once, and this login goes on without one.
      if (outcome === 0 || outcome === 2) return claimed
      const box = holder ?? null
      if (box === PENDING) {
        waited = true
      } else if (box?.startsWith(FAILED)) {
        const failure = JSON.parse(box.slice(FAILED.length)) as LoginFailure
        if (waited || failure.refused) return { claimed: false, failure }
        // A transient failure of an earlier post: this one tries again.
        const retaken = await this.gateway.run('code.retake', () => this.#retake(key, box, PENDING, String(pendingMs)))
        if (retaken === 'OK') return claimed
        continue
      } else if (box !== null) {
        const replay = unseal(box, code, context)
        if (replay !== null) return { claimed: false, replay }
      }
      if (Date.now() >= waitUntil) throw new LoginInProgressError()
      await sleep(POLL_MS)
    }
  }

  /** Keeps the login's answer for replays of its code. */
  async settle (claim: ClaimedCode, answer: string): Promise<void> {
    const box = seal(answer, claim.code, claim.context)
    await this.gateway.run('code.settle', (redis) => redis.set(claim.key, box, 'PX', this.replayWindowMs, 'XX'))
  }

  /**
   * Tells the other posts of the code how the login failed, instead of
   * letting them exchange a spent code again: a refused code for the replay
   * window, a transient failure only the posts that waited for it.
   */
  async fail (claim: ClaimedCode, failure: LoginFailure): Promise<void> {
    const keepMs = failure.refused ? this.replayWindowMs : FAILURE_SHARED_MS
    // Best effort: unwritten, the pending claim lapses on its own.
    await this.gateway.run('code.fail', (redis) => redis.set(claim.key, FAILED + JSON.stringify(failure), 'PX', keepMs, 'XX')).catch(() => {})
  }
}
