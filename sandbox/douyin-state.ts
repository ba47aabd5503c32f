import { randomBytes } from 'node:crypto'
import { OpenDataUsers } from './open-data-users.js'
import type { WechatSandboxPhone, WechatSandboxProfile } from './wechat-user.js'

// What Douyin remembers and its rules: apps, the single-use codes of
// tt.login (a user's code, a device's anonymousCode), the current session_key
// of each user. Failures are err_no values; douyin.ts turns them into answers.

/** A Douyin user on a device, as tt.login sees them. */
export interface DouyinSandboxUser {
  /** The device's anonymous_openid: the same at every tt.login from it. */
  anonymousOpenId: string
  /** Absent: the user is not logged in to the host app, and tt.login gives only an anonymousCode. */
  openId?: string
  unionId?: string
  /** A mainland number as a string, or any number with its country code. */
  phone?: string | WechatSandboxPhone
  profile?: Partial<WechatSandboxProfile>
}

/** What tt.login gives the mini-program. */
export interface DouyinLoginCodes {
  /** Only for a user logged in to the host app. */
  code?: string
  anonymousCode: string
}

export interface DouyinStateOptions {
  /** appId → appSecret. */
  apps?: Record<string, string>
  now?: () => number
  /** Whether decrypted data carries a watermark, as Douyin documents. Default true; false plays data the product refuses. */
  watermark?: boolean
}

// tt.login's codes live 5 minutes (its docs; older ones said 3).
const CODE_TTL_MS = 5 * 60_000

/** Douyin's err_no values, as the old jscode2session documents them (the v2 one answers 40018 too). */
export const ERR_TIPS: Record<number, string> = {
  [-1]: 'system error',
  40014: 'bad params',
  40015: 'bad appid',
  40017: 'bad secret',
  40018: 'bad code',
  40019: 'bad anonymous code'
}

type ErrNo = number

interface IssuedCode {
  appId: string
  issuedAt: number
  used: boolean
  /** A user's code: their openid. An anonymousCode: the device's anonymous_openid. */
  id: string
}

export class DouyinState {
  /** Whether decrypted data carries a watermark. */
  readonly watermarks: boolean
  readonly users: OpenDataUsers<DouyinSandboxUser & { openId: string }>
  private readonly now: () => number
  private readonly codes = new Map<string, IssuedCode>()
  private readonly anonymousCodes = new Map<string, IssuedCode>()

  /** `remember` notes each secret handed out, for leak checks, and returns it. */
  constructor (options: DouyinStateOptions, remember: (secret: string) => string) {
    this.now = options.now ?? Date.now
    this.watermarks = options.watermark ?? true
    this.users = new OpenDataUsers('Douyin', 'login', options.apps, this.now, remember)
  }

  // --- what the mini-program side gets ---------------------------------------

  /** tt.login: a code for a logged-in user (and a fresh session_key), an anonymousCode always. */
  login (user: DouyinSandboxUser, appId?: string): DouyinLoginCodes {
    const id = this.users.appIdOf(appId)
    const anonymousCode = this.issue(this.anonymousCodes, id, user.anonymousOpenId)
    if (user.openId === undefined) return { anonymousCode }
    // A new session_key at each tt.login: the previous one stops working.
    this.users.rotate(id, { ...user, openId: user.openId })
    return { code: this.issue(this.codes, id, user.openId), anonymousCode }
  }

  // --- what the server side asks ---------------------------------------------

  /**
   * jscode2session: checks the app, then both codes, and spends them only
   * when both are good (whether Douyin spends a good code beside a bad one is
   * unverified). Fields a code was not sent for are empty, as Douyin answers.
   */
  exchange (body: Record<string, unknown>): Record<string, string> | ErrNo {
    const { appid: appId, secret, code, anonymous_code: anonymousCode } = body
    if (typeof appId !== 'string' || this.users.secretOf(appId) === undefined) return 40015
    if (this.users.secretOf(appId) !== secret) return 40017
    const wanted = (value: unknown): value is string => typeof value === 'string' && value !== ''
    if (!wanted(code) && !wanted(anonymousCode)) return 40014
    const user = wanted(code) ? this.valid(this.codes, code, appId) : null
    if (user === undefined) return 40018
    const device = wanted(anonymousCode) ? this.valid(this.anonymousCodes, anonymousCode, appId) : null
    if (device === undefined) return 40019
    const answer = { session_key: '', openid: '', unionid: '', anonymous_openid: '' }
    if (user) {
      user.used = true
      const { user: known, sessionKey } = this.users.find(appId, user.id)!
      Object.assign(answer, { session_key: sessionKey, openid: known.openId, unionid: known.unionId ?? '' })
    }
    if (device) {
      device.used = true
      answer.anonymous_openid = device.id
    }
    return answer
  }

  // ---------------------------------------------------------------------------

  private issue (store: Map<string, IssuedCode>, appId: string, id: string): string {
    const code = randomBytes(24).toString('base64url')
    store.set(code, { appId, id, issuedAt: this.now(), used: false })
    return code
  }

  /** The code if it is good for this app, unexpired and unused; undefined otherwise. */
  private valid (store: Map<string, IssuedCode>, code: string, appId: string): IssuedCode | undefined {
    const found = store.get(code)
    if (!found || found.used || found.appId !== appId || this.now() - found.issuedAt >= CODE_TTL_MS) return undefined
    return found
  }
}
