import { createHmac, randomBytes } from 'node:crypto'
import { OpenDataUsers } from './open-data-users.js'
import { phoneOf, type WechatSandboxUser } from './wechat-user.js'

// What WeChat remembers and its rules: apps, single-use codes, the current
// session_key of each user, access tokens and their lifetimes. Failures are
// errcodes; wechat-routes.ts turns them into WeChat's answers. One job, the
// state rules, which is why it runs past the usual size: codes, keys and
// tokens interlock (a login rotates the key a phone payload is sealed with).

export interface WechatStateOptions {
  /** appId → appSecret. */
  apps?: Record<string, string>
  now?: () => number
  /** Seconds. Default 7200, as WeChat's. */
  accessTokenTtl?: number
  /** The pages of the released version, which wxacode's check_path accepts. Default ['pages/index/index']. */
  pages?: string[]
  /** wxacode.getUnlimited calls an AppID may make a minute (45009 past it). Default 5000, as WeChat's. */
  wxacodesPerMinute?: number
}

const CODE_TTL_MS = 5 * 60_000
// Normal-mode stable_token hands out a new token in the last 5 minutes, and a
// token replaced by cgi-bin/token stays valid 5 more minutes.
const OVERLAP_MS = 5 * 60_000
// stable_token with force_refresh: about 20 a day per AppID, 30 s apart.
const FORCED_PER_DAY = 20
const FORCED_INTERVAL_MS = 30_000
/** WeChat's errcode for a daily quota reached ('reach max api daily quota limit'). */
const DAILY_QUOTA = 45009
const DAY_MS = 86_400_000
const CHINA_OFFSET_MS = 8 * 3_600_000

interface IssuedCode {
  appId: string
  openId: string
  issuedAt: number
  used: boolean
  /** wx.login codes: the session_key issued with the code. */
  sessionKey?: string
}

interface Token {
  appId: string
  expiresAt: number
}

/** An AppID's forced refreshes: how many on `day` (a China calendar day), and the last one's time. */
interface ForcedRefreshes {
  day: number
  count: number
  lastAt: number
}

type Errcode = number

export interface TokenAnswer {
  access_token: string
  expires_in: number
}

const CODE_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

/** A wx.login code as WeChat issues them: 32 characters of [0-9A-Za-z]. */
function newCode (): string {
  let code = ''
  while (code.length < 32) {
    for (const byte of randomBytes(40)) {
      // 248 = 4 × 62: higher bytes are dropped, so every character is equally likely.
      if (byte < 248 && code.length < 32) code += CODE_ALPHABET[byte % 62]
    }
  }
  return code
}

/** The China calendar day (GMT+8) of an instant: WeChat's daily quotas are counted per day there (when they reset is unverified). */
const chinaDay = (ms: number): number => Math.floor((ms + CHINA_OFFSET_MS) / DAY_MS)

export class WechatState {
  /** stable_token calls with force_refresh: true. */
  forcedRefreshes = 0
  private readonly now: () => number
  private readonly tokenTtlMs: number
  readonly users: OpenDataUsers<WechatSandboxUser>
  private readonly codes = new Map<string, IssuedCode>()
  private readonly phoneCodes = new Map<string, IssuedCode>()
  private readonly tokens = new Map<string, Token>()
  private readonly stableTokens = new Map<string, string>()
  private readonly classicTokens = new Map<string, string>()
  private readonly forced = new Map<string, ForcedRefreshes>()
  private readonly pages: Set<string>
  private readonly wxacodesPerMinute: number
  private readonly wxacodes = new Map<string, { minute: number, count: number }>()

  /** `remember` notes each secret handed out, for leak checks, and returns it. */
  constructor (options: WechatStateOptions, private readonly remember: (secret: string) => string) {
    this.now = options.now ?? Date.now
    this.tokenTtlMs = (options.accessTokenTtl ?? 7200) * 1000
    this.users = new OpenDataUsers('WeChat', 'issueCode', options.apps, this.now, remember)
    this.pages = new Set(options.pages ?? ['pages/index/index'])
    this.wxacodesPerMinute = options.wxacodesPerMinute ?? 5000
  }

  /** Whether the released version of the app has this page (every app of the sandbox has the same pages). */
  released (page: string): boolean {
    return this.pages.has(page)
  }

  /** Counts a wxacode.getUnlimited call: false past the minute's quota. */
  spendWxacode (appId: string): boolean {
    const minute = Math.floor(this.now() / 60_000)
    const spent = this.wxacodes.get(appId)
    const count = spent?.minute === minute ? spent.count + 1 : 1
    this.wxacodes.set(appId, { minute, count })
    return count <= this.wxacodesPerMinute
  }

  // --- what the mini-program side gets ---------------------------------------

  issueCode (user: WechatSandboxUser, appId?: string): string {
    const id = this.users.appIdOf(appId)
    // A new session_key at each wx.login: the previous one stops working.
    const sessionKey = this.users.rotate(id, user)
    const code = newCode()
    this.codes.set(code, { appId: id, openId: user.openId, sessionKey, issuedAt: this.now(), used: false })
    return code
  }

  phoneCode (openId: string, appId?: string): string {
    const { user, appId: id } = this.users.stateOf(openId, appId)
    if (!user.phone) throw new Error(`WeChat sandbox: ${openId} has no phone number`)
    const code = randomBytes(32).toString('hex')
    this.phoneCodes.set(code, { appId: id, openId, issuedAt: this.now(), used: false })
    return code
  }

  // --- what the server side asks ---------------------------------------------

  /** The errcode for bad credentials, or null when appid and secret match. */
  credentialsError (appId: unknown, secret: unknown): Errcode | null {
    if (typeof appId !== 'string' || appId === '') return 41002
    const known = this.users.secretOf(appId)
    if (known === undefined) return 40013
    if (known !== secret) return 40125
    return null
  }

  /** The app of a valid access token, or WeChat's errcode for it. */
  tokenApp (token: string | null): string | Errcode {
    if (!token) return 41001
    const found = this.tokens.get(token)
    if (!found) return 40001
    if (this.now() >= found.expiresAt) return 42001
    return found.appId
  }

  /** jscode2session: spends the code. */
  exchangeCode (code: unknown, appId: string): Record<string, unknown> | Errcode {
    const found = this.takeCode(this.codes, code, appId, 40163)
    if (typeof found === 'number') return found
    const { user } = this.users.find(found.appId, found.openId)!
    return { session_key: found.sessionKey, openid: user.openId, ...(user.unionId ? { unionid: user.unionId } : {}) }
  }

  /** cgi-bin/token: a new token; the previous one lives 5 more minutes at most. */
  classicToken (appId: string): TokenAnswer {
    const previous = this.tokens.get(this.classicTokens.get(appId) ?? '')
    if (previous) previous.expiresAt = Math.min(previous.expiresAt, this.now() + OVERLAP_MS)
    const answer = this.newToken(appId)
    this.classicTokens.set(appId, answer.access_token)
    return answer
  }

  /**
   * cgi-bin/stable_token. Normal mode: the current token while it is valid
   * (a new one in its last minutes). Forced: a new token, and the previous one
   * stops working at once; 20 a day per AppID. WeChat's reference: a forced
   * refresh within 30 s of the last one does not refresh (it names no error):
   * normal mode's answer, the current token.
   */
  stableToken (appId: string, forceRefresh: boolean): TokenAnswer | Errcode {
    if (forceRefresh) {
      this.forcedRefreshes++
      const forced = this.forced.get(appId)
      if (forced?.day === chinaDay(this.now()) && forced.count >= FORCED_PER_DAY) return DAILY_QUOTA
      if (forced === undefined || this.now() - forced.lastAt >= FORCED_INTERVAL_MS) return this.forceStableToken(appId)
    }
    const current = this.stableTokens.get(appId)
    const token = current === undefined ? undefined : this.tokens.get(current)
    if (current !== undefined && token && token.expiresAt - this.now() > Math.min(OVERLAP_MS, this.tokenTtlMs / 2)) {
      return { access_token: current, expires_in: Math.floor((token.expiresAt - this.now()) / 1000) }
    }
    const answer = this.newToken(appId)
    this.stableTokens.set(appId, answer.access_token)
    return answer
  }

  /** Another service on the AppID forces a refresh: it counts against the AppID's forced refreshes, and is never refused. */
  rotateToken (appId?: string): void {
    this.forceStableToken(this.users.appIdOf(appId))
  }

  /**
   * getuserphonenumber: spends the phone code. It knows no 40163: a used code
   * is just invalid. With an `openid`, a code given to another user is refused,
   * and not spent (the reference says WeChat checks; its errcode for a mismatch
   * is unverified: 40029, as for any code it will not redeem).
   */
  redeemPhoneCode (code: unknown, appId: string, openId?: unknown): Record<string, unknown> | Errcode {
    const found = this.takeCode(this.phoneCodes, code, appId, 40029, openId)
    if (typeof found === 'number') return found
    const { phone } = this.users.find(appId, found.openId)!.user
    return { ...phoneOf(phone!), watermark: this.users.watermark(appId) }
  }

  /** checksession: 0 when the signature is hmac_sha256 of '' under the user's current session_key. */
  checkSession (appId: string, openId: string, sigMethod: string | null, signature: string | null): Errcode {
    const state = this.users.find(appId, openId)
    if (!state) return 40003
    const expected = createHmac('sha256', state.sessionKey).update('').digest('hex')
    return sigMethod === 'hmac_sha256' && signature?.toLowerCase() === expected ? 0 : 87009
  }

  // ---------------------------------------------------------------------------

  private newToken (appId: string): TokenAnswer {
    const token = this.remember(randomBytes(48).toString('base64url'))
    this.tokens.set(token, { appId, expiresAt: this.now() + this.tokenTtlMs })
    return { access_token: token, expires_in: Math.floor(this.tokenTtlMs / 1000) }
  }

  private forceStableToken (appId: string): TokenAnswer {
    const now = this.now()
    const forced = this.forced.get(appId)
    const day = chinaDay(now)
    this.forced.set(appId, { day, count: forced?.day === day ? forced.count + 1 : 1, lastAt: now })
    const current = this.stableTokens.get(appId)
    if (current !== undefined) this.tokens.delete(current)
    const answer = this.newToken(appId)
    this.stableTokens.set(appId, answer.access_token)
    return answer
  }

  /** The code, now spent, or the errcode; `owner`, when given, must be the openid the code was issued to. */
  private takeCode (store: Map<string, IssuedCode>, code: unknown, appId: string, usedErrcode: Errcode, owner?: unknown): IssuedCode | Errcode {
    if (typeof code !== 'string' || code === '') return 41008
    const found = store.get(code)
    if (!found || found.appId !== appId || this.now() - found.issuedAt >= CODE_TTL_MS) return 40029
    if (owner !== undefined && owner !== found.openId) return 40029
    if (found.used) return usedErrcode
    found.used = true
    return found
  }
}
