import { createHmac, randomBytes } from 'node:crypto'
import { encryptData, phoneOf, signedUserInfo, type EncryptedPayload, type SignedUserInfo, type Watermark, type WechatSandboxUser } from './wechat-user.js'

// What WeChat remembers and its rules: apps, single-use codes, the current
// session_key of each user, access tokens and their lifetimes. Failures are
// errcodes; wechat-routes.ts turns them into WeChat's answers.

export interface WechatStateOptions {
  /** appId → appSecret. */
  apps?: Record<string, string>
  now?: () => number
  /** Seconds. Default 7200, as WeChat's. */
  accessTokenTtl?: number
}

const CODE_TTL_MS = 5 * 60_000
// Normal-mode stable_token hands out a new token in the last 5 minutes, and a
// token replaced by cgi-bin/token stays valid 5 more minutes.
const OVERLAP_MS = 5 * 60_000

interface UserState {
  user: WechatSandboxUser
  sessionKey: string
}

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

type Errcode = number

export interface TokenAnswer {
  access_token: string
  expires_in: number
}

/** Codes in standard base64 always hold '+' and '/': a client that does not URL-encode them fails, as against WeChat. */
function newCode (): string {
  for (;;) {
    const code = randomBytes(24).toString('base64')
    if (code.includes('+') && code.includes('/')) return code
  }
}

const userKey = (appId: string, openId: string): string => `${appId}\n${openId}`

export class WechatState {
  /** stable_token calls with force_refresh: true. */
  forcedRefreshes = 0
  private readonly now: () => number
  private readonly tokenTtlMs: number
  private readonly apps = new Map<string, string>()
  private readonly users = new Map<string, UserState>()
  private readonly codes = new Map<string, IssuedCode>()
  private readonly phoneCodes = new Map<string, IssuedCode>()
  private readonly tokens = new Map<string, Token>()
  private readonly stableTokens = new Map<string, string>()
  private readonly classicTokens = new Map<string, string>()

  /** `remember` notes each secret handed out, for leak checks, and returns it. */
  constructor (options: WechatStateOptions, private readonly remember: (secret: string) => string) {
    this.now = options.now ?? Date.now
    this.tokenTtlMs = (options.accessTokenTtl ?? 7200) * 1000
    for (const [appId, secret] of Object.entries(options.apps ?? {})) this.addApp(appId, secret)
  }

  addApp (appId: string, appSecret: string): void {
    this.apps.set(appId, appSecret)
  }

  /** The secrets of the apps WeChat knows (issued ones go to `remember`). */
  appSecrets (): string[] {
    return [...this.apps.values()]
  }

  // --- what the mini-program side gets ---------------------------------------

  issueCode (user: WechatSandboxUser, appId?: string): string {
    const id = this.defaultAppId(appId)
    const sessionKey = this.remember(randomBytes(16).toString('base64'))
    // A new session_key at each wx.login: the previous one stops working.
    this.users.set(userKey(id, user.openId), { user, sessionKey })
    const code = newCode()
    this.codes.set(code, { appId: id, openId: user.openId, sessionKey, issuedAt: this.now(), used: false })
    return code
  }

  sessionKeyOf (openId: string, appId?: string): string {
    return this.stateOf(openId, appId).sessionKey
  }

  userInfo (openId: string, appId?: string): SignedUserInfo {
    const { user, sessionKey, appId: id } = this.stateOf(openId, appId)
    return signedUserInfo(user, sessionKey, this.watermark(id))
  }

  phoneData (openId: string, appId?: string): EncryptedPayload {
    const { user, sessionKey, appId: id } = this.stateOf(openId, appId)
    if (!user.phone) throw new Error(`WeChat sandbox: ${openId} has no phone number`)
    return encryptData({ ...phoneOf(user.phone), watermark: this.watermark(id) }, sessionKey)
  }

  phoneCode (openId: string, appId?: string): string {
    const { user, appId: id } = this.stateOf(openId, appId)
    if (!user.phone) throw new Error(`WeChat sandbox: ${openId} has no phone number`)
    const code = randomBytes(32).toString('hex')
    this.phoneCodes.set(code, { appId: id, openId, issuedAt: this.now(), used: false })
    return code
  }

  // --- what the server side asks ---------------------------------------------

  /** The errcode for bad credentials, or null when appid and secret match. */
  credentialsError (appId: unknown, secret: unknown): Errcode | null {
    if (typeof appId !== 'string' || appId === '') return 41002
    if (!this.apps.has(appId)) return 40013
    if (this.apps.get(appId) !== secret) return 40125
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
    const { user } = this.users.get(userKey(found.appId, found.openId))!
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

  /** cgi-bin/stable_token. */
  stableToken (appId: string, forceRefresh: boolean): TokenAnswer {
    const current = this.stableTokens.get(appId)
    const token = current === undefined ? undefined : this.tokens.get(current)
    if (forceRefresh) {
      this.forcedRefreshes++
      // Forced: the previous token stops working at once.
      if (current !== undefined) this.tokens.delete(current)
    } else if (current !== undefined && token && token.expiresAt - this.now() > Math.min(OVERLAP_MS, this.tokenTtlMs / 2)) {
      // Normal mode: the same token while it is valid, a new one in its last minutes.
      return { access_token: current, expires_in: Math.floor((token.expiresAt - this.now()) / 1000) }
    }
    const answer = this.newToken(appId)
    this.stableTokens.set(appId, answer.access_token)
    return answer
  }

  /** getuserphonenumber: spends the phone code. It knows no 40163: a used code is just invalid. */
  redeemPhoneCode (code: unknown, appId: string): Record<string, unknown> | Errcode {
    const found = this.takeCode(this.phoneCodes, code, appId, 40029)
    if (typeof found === 'number') return found
    const { phone } = this.users.get(userKey(appId, found.openId))!.user
    return { ...phoneOf(phone!), watermark: this.watermark(appId) }
  }

  /** checksession: 0 when the signature is hmac_sha256 of '' under the user's current session_key. */
  checkSession (appId: string, openId: string, sigMethod: string | null, signature: string | null): Errcode {
    const state = this.users.get(userKey(appId, openId))
    if (!state) return 40003
    const expected = createHmac('sha256', state.sessionKey).update('').digest('hex')
    return sigMethod === 'hmac_sha256' && signature?.toLowerCase() === expected ? 0 : 87009
  }

  // ---------------------------------------------------------------------------

  private defaultAppId (appId?: string): string {
    const id = appId ?? this.apps.keys().next().value
    if (id === undefined || !this.apps.has(id)) throw new Error(`WeChat sandbox: unknown app ${JSON.stringify(id)}; addApp(appId, secret) first`)
    return id
  }

  private stateOf (openId: string, appId?: string): UserState & { appId: string } {
    const id = this.defaultAppId(appId)
    const state = this.users.get(userKey(id, openId))
    if (!state) throw new Error(`WeChat sandbox: ${openId} never logged in to ${id}; issueCode() first`)
    return { ...state, appId: id }
  }

  private newToken (appId: string): TokenAnswer {
    const token = this.remember(randomBytes(48).toString('base64url'))
    this.tokens.set(token, { appId, expiresAt: this.now() + this.tokenTtlMs })
    return { access_token: token, expires_in: Math.floor(this.tokenTtlMs / 1000) }
  }

  private takeCode (store: Map<string, IssuedCode>, code: unknown, appId: string, usedErrcode: Errcode): IssuedCode | Errcode {
    if (typeof code !== 'string' || code === '') return 41008
    const found = store.get(code)
    if (!found || found.appId !== appId || this.now() - found.issuedAt >= CODE_TTL_MS) return 40029
    if (found.used) return usedErrcode
    found.used = true
    return found
  }

  private watermark (appId: string): Watermark {
    return { timestamp: Math.floor(this.now() / 1000), appid: appId }
  }
}
