import { createHash, randomInt, timingSafeEqual } from 'node:crypto'
import type { Redis } from 'ioredis'
import { errors, type Exchange, type ExchangeContext, type LoginProvider } from '../../index.js'

// A login provider of the app's own: a six-digit code sent by SMS. It turns a
// code into an identity; the library's login flow does the rest (the
// replay-safe claim, resolveUser, the session), as for the built-in platforms.

export interface SmsCodeOptions {
  /** Where the codes live: the app's Redis, so every instance sees them. */
  redis: Redis
  /** Prefix of this provider's keys. */
  keyPrefix: string
  /** Sends the text: your SMS vendor's API. */
  send: (phone: string, code: string) => Promise<void>
  /** How long a code may be used. Default 5 minutes. */
  codeTtlMs?: number
  /** Wrong codes before the code is burnt (the login rate limit counts per client, this per phone). Default 5. */
  maxAttempts?: number
}

/** The one "app" of this provider: every phone logs in to the same one. */
const SMS_APP_ID = 'default'

/**
 * Logs in by SMS code. The flow's login code is `<phone>:<code>`: a claim per
 * phone, as two phones may be sent the same six digits.
 */
export class SmsCodeProvider implements LoginProvider {
  readonly name = 'sms'
  private readonly codeTtlMs: number
  private readonly maxAttempts: number

  constructor (private readonly options: SmsCodeOptions) {
    this.codeTtlMs = options.codeTtlMs ?? 5 * 60_000
    this.maxAttempts = options.maxAttempts ?? 5
  }

  resolveAppId (appId?: string): string {
    if (appId !== undefined && appId !== SMS_APP_ID) throw new errors.UnknownAppError(JSON.stringify(appId))
    return SMS_APP_ID
  }

  /** Three Redis calls at most; no upstream. */
  exchangeBudgetMs (): number {
    return 3000
  }

  /** Sends a new code to the phone; it replaces any earlier one. */
  async sendCode (phone: string): Promise<void> {
    const code = String(randomInt(1_000_000)).padStart(6, '0')
    // Only a hash is stored: a Redis dump shows no live code.
    await this.options.redis.multi()
      .set(this.key('code', phone), hashOf(code), 'PX', this.codeTtlMs)
      .del(this.key('tries', phone))
      .exec()
    await this.options.send(phone, code)
  }

  async exchange (loginCode: string, { appId }: ExchangeContext): Promise<Exchange> {
    const split = loginCode.lastIndexOf(':')
    const phone = loginCode.slice(0, split)
    const code = loginCode.slice(split + 1)
    const { redis } = this.options
    const stored = await redis.get(this.key('code', phone))
    if (stored === null || !timingSafeEqual(Buffer.from(stored, 'base64url'), Buffer.from(hashOf(code), 'base64url'))) {
      if (stored !== null && await this.countWrongCode(phone) >= this.maxAttempts) await redis.del(this.key('code', phone))
      throw new errors.CodeInvalidError('wrong or expired SMS code')
    }
    // Single use: of two logins with the right code, one deletes it.
    if (await redis.del(this.key('code', phone)) === 0) throw new errors.CodeInvalidError('wrong or expired SMS code')
    return { identity: { provider: this.name, appId, openId: phone }, secrets: {} }
  }

  /** Wrong codes for the phone's current code so far, this one included. */
  private async countWrongCode (phone: string): Promise<number> {
    const tries = this.key('tries', phone)
    const replies = await this.options.redis.multi().incr(tries).pexpire(tries, this.codeTtlMs).exec()
    return Number(replies?.[0]?.[1])
  }

  private key (kind: 'code' | 'tries', phone: string): string {
    return `${this.options.keyPrefix}sms:${kind}:${phone}`
  }
}

function hashOf (code: string): string {
  return createHash('sha256').update(code).digest('base64url')
}
