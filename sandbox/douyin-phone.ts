import { constants, createPublicKey, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { IssuedCodes } from './issued-codes.js'
import { phoneOf, type WechatSandboxPhone } from './wechat-user.js'

// open.douyin.com's side of Douyin's code-based phone number (base library
// 3.51.0+): oauth/client_token/ (an app's client_token: 2 hours, a new one
// ends the one before 5 minutes later, at most two alive) and
// api/apps/v1/get_phonenumber_info/ (a single-use getPhoneNumber code, 5
// minutes, for the number sealed with the app's RSA public key, PKCS#1 v1.5).
// Error numbers Douyin does not publish are docs/douyin.md's.

const TOKEN_TTL_MS = 2 * 3600_000
const PREVIOUS_TOKEN_GRACE_MS = 5 * 60_000
const PHONE_CODE_TTL_MS = 5 * 60_000
/** client_token's documented error_codes. */
const TOKEN_ERRORS: Record<number, string> = { 10002: 'Parameter error', 10003: 'client_key not found', 10013: 'client_key or client_secret error', 10020: 'too many requests' }
/** get_phonenumber_info's: the sandbox's choice where Douyin publishes none (docs/douyin.md). */
const PHONE_ERR_NO = { tokenInvalid: 28001003, codeInvalid: 28005187 } as const

interface ClientToken {
  appId: string
  expiresAt: number
}

export class DouyinPhoneState {
  private readonly keys = new Map<string, KeyObject>()
  private readonly tokens = new Map<string, ClientToken>()
  private readonly codes: IssuedCodes
  private readonly phones = new Map<string, WechatSandboxPhone & { phoneNumber: string }>()

  constructor (
    private readonly secretOf: (appId: string) => string | undefined,
    private readonly now: () => number,
    private readonly remember: (secret: string) => string
  ) {
    this.codes = new IssuedCodes(PHONE_CODE_TTL_MS, now)
  }

  /** Plays the developer setting the app's public key in Douyin's console. */
  setPublicKey (appId: string, publicKeyPem: string): void {
    this.keys.set(appId, createPublicKey(publicKeyPem))
  }

  /** Plays the getPhoneNumber button (3.51.0+): a code for this user's number. */
  phoneCode (appId: string, openId: string, phone: string | WechatSandboxPhone): string {
    if (!this.keys.has(appId)) throw new Error(`Douyin sandbox: app ${appId} has no public key; setPhoneKey(appId, publicKeyPem) first`)
    const code = this.codes.issue(appId, openId)
    this.phones.set(code, phoneOf(phone))
    return code
  }

  clientToken (body: Record<string, unknown>): Record<string, unknown> {
    const { client_key: appId, client_secret: secret, grant_type: grantType } = body
    const refuse = (errorCode: number) => this.tokenRefusal(errorCode)
    if (typeof appId !== 'string' || typeof secret !== 'string' || grantType !== 'client_credential') return refuse(10002)
    if (this.secretOf(appId) === undefined) return refuse(10003)
    if (this.secretOf(appId) !== secret) return refuse(10013)
    // The app's newest token stays; the one before lapses in 5 minutes; older ones now.
    const mine = [...this.tokens].filter(([, token]) => token.appId === appId)
    for (const [i, [old, token]] of mine.reverse().entries()) {
      if (i === 0) token.expiresAt = Math.min(token.expiresAt, this.now() + PREVIOUS_TOKEN_GRACE_MS)
      else this.tokens.delete(old)
    }
    const token = this.remember(`clt.${randomBytes(24).toString('hex')}`)
    this.tokens.set(token, { appId, expiresAt: this.now() + TOKEN_TTL_MS })
    return { data: { access_token: token, description: '', error_code: 0, expires_in: TOKEN_TTL_MS / 1000 }, message: 'success' }
  }

  /** client_token's error answer: HTTP 200, the error inside `data`. */
  tokenRefusal (errorCode: number, description = TOKEN_ERRORS[errorCode] ?? 'sandbox fault'): Record<string, unknown> {
    return { data: { description, error_code: errorCode }, message: 'error', extra: { logid: randomBytes(16).toString('hex'), now: this.now() } }
  }

  phoneInfo (headers: IncomingHttpHeaders, body: Record<string, unknown>): Record<string, unknown> {
    const logId = randomBytes(16).toString('hex').toUpperCase()
    const token = this.tokens.get(String(headers['access-token'] ?? ''))
    if (!token || this.now() >= token.expiresAt) return { err_no: PHONE_ERR_NO.tokenInvalid, err_tips: 'access_token invalid', log_id: logId }
    const code = body.code
    const openId = this.codes.spend(code, token.appId)
    if (openId === undefined) return { err_no: PHONE_ERR_NO.codeInvalid, err_tips: 'code expired or used', log_id: logId }
    const sealed = publicEncrypt({ key: this.keys.get(token.appId)!, padding: constants.RSA_PKCS1_PADDING },
      Buffer.from(JSON.stringify({ ...this.phones.get(code as string), watermark: { appid: token.appId, timestamp: Math.floor(this.now() / 1000) } })))
    return { err_no: 0, err_tips: 'success', log_id: logId, data: sealed.toString('base64') }
  }
}
