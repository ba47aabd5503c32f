import { constants, privateDecrypt } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { MisconfiguredError, PhoneCodeInvalidError, UpstreamError, WatermarkMismatchError } from '../../errors.js'
import { Apps } from '../../lib/apps.js'
import { observeUpstream } from '../../lib/diagnostics.js'
import { phoneNumberOf, type PhoneNumber } from '../../lib/open-data.js'
import type { PlatformTokenRecords } from '../../store/platform-tokens.js'
import { JsonHttp, stringField, upstreamMessage, type JsonCall, type JsonReply } from '../common/json-http.js'
import { refusalError, type PlatformRefusal } from '../common/platform-errors.js'
import { SharedTokens, type TokenGrant } from '../common/shared-token.js'
import type { DouyinAppConfig } from './options.js'
import type { PhoneCodeConfig } from './phone-code-options.js'

// Douyin's code-based phone number (base library 3.51.0+): the button's code
// goes to api/apps/v1/get_phonenumber_info/ with the app's client_token
// (oauth/client_token/, 2 hours, shared by every instance: each fetch ends
// the one before after 5 minutes), and the answer is the number sealed with
// the app's RSA public key (PKCS#1 v1.5), watermarked with its AppID.
// docs/douyin.md pins the wire format and what stays unverified.

const CLIENT_TOKEN = 'oauth/client_token/'
const PHONE_INFO = 'api/apps/v1/get_phonenumber_info/'
// client_token's documented error_codes: the app's credentials, and its rate limit (500 calls in 5 minutes).
const TOKEN_MISCONFIGURED = new Map([[10003, 'client_key (appId) unknown'], [10013, 'client_key (appId) or client_secret (appSecret) is wrong']])
const TOKEN_RATE_LIMITED = 10020
// A phone code that is expired or spent (a third-party client documents 28005187; Douyin's own table is not public, docs/douyin.md).
const PHONE_CODE_INVALID = new Set([28005187])
// The client_token is not (or no longer) valid: Douyin's number is not public, this is the sandbox's (docs/douyin.md).
const TOKEN_REFUSED = 28001003

interface PhoneCodeApp extends PhoneCodeConfig {
  appId: string
  appSecret: string
}

type HttpPhoneCodeApp = JsonHttp<PhoneCodeApp>['apps'][number]

export class DouyinPhoneCodes {
  private readonly http: JsonHttp<PhoneCodeApp>
  private readonly apps: Apps<HttpPhoneCodeApp>
  private readonly tokens: SharedTokens<HttpPhoneCodeApp>

  constructor (configs: DouyinAppConfig[], records: PlatformTokenRecords, private readonly log: FastifyBaseLogger) {
    this.http = new JsonHttp(configs.flatMap(({ appId, appSecret, phoneCodes }) => phoneCodes ? [{ appId, appSecret, ...phoneCodes }] : []))
    this.apps = new Apps(this.http.apps)
    this.tokens = new SharedTokens(records, {
      label: CLIENT_TOKEN,
      keyOf: (app) => app.appId,
      budgetMs: (app) => app.timeoutMs,
      grant: (app) => this.grant(app)
    })
  }

  /** The phone number a getPhoneNumber code gives, for a session of app `appId`. */
  async phoneNumber (appId: string, code: string): Promise<PhoneNumber> {
    if (!this.apps.ids.includes(appId)) {
      this.log.error({ appId }, `A getPhoneNumber code came for Douyin app ${appId}, which has no phonePrivateKey: set douyin.phonePrivateKey (and its public key in Douyin's console)`)
      throw new MisconfiguredError(`Douyin app ${appId} cannot take phone codes; the server log says what to fix`)
    }
    const app = this.apps.get(appId)
    const reply = await this.withToken(app, code)
    const sealed = stringField(reply, 'data', PHONE_INFO)
    const data = this.open(app, sealed)
    if ((data.watermark as { appid?: unknown } | undefined)?.appid !== appId) throw new WatermarkMismatchError()
    const phone = phoneNumberOf(data)
    if (!phone) throw new UpstreamError(`${PHONE_INFO} answered data without a phone number`)
    return phone
  }

  close (): Promise<void> {
    return this.http.close()
  }

  /** get_phonenumber_info with the client_token; a token Douyin refuses (another deployment fetched a newer one) is replaced once. */
  private async withToken (app: HttpPhoneCodeApp, code: string): Promise<JsonReply> {
    let refused: string | undefined
    for (;;) {
      const token = await this.tokens.tokenFor(app, refused)
      const refusalOf = (reply: JsonReply) => refused === undefined && Number(reply.err_no) === TOKEN_REFUSED ? undefined : phoneRefusalOf(reply)
      const reply = await this.call(app, PHONE_INFO, { method: 'POST', headers: { 'access-token': token }, body: { code } }, [token, app.appSecret], refusalOf)
      if (Number(reply.err_no ?? 0) !== TOKEN_REFUSED) return reply
      this.log.info({ appId: app.appId, endpoint: PHONE_INFO, errNo: TOKEN_REFUSED }, 'Douyin refused the client_token: fetching another')
      refused = token
    }
  }

  private async grant (app: HttpPhoneCodeApp): Promise<TokenGrant> {
    const reply = await this.call(app, CLIENT_TOKEN, {
      method: 'POST',
      body: { client_key: app.appId, client_secret: app.appSecret, grant_type: 'client_credential' }
    }, [app.appSecret], tokenRefusalOf)
    const data = (reply.data ?? {}) as JsonReply
    const token = stringField(data, 'access_token', CLIENT_TOKEN)
    const lifetimeMs = Number(data.expires_in) * 1000
    if (!(lifetimeMs > 0)) throw new UpstreamError(`${CLIENT_TOKEN} answered without a valid expires_in`)
    return { token, lifetimeMs }
  }

  /** One call, observed; a refusal becomes our error (with the fix in the log), another non-2xx a 502. */
  private async call (app: HttpPhoneCodeApp, endpoint: string, call: JsonCall, secrets: string[], refusalOf: (reply: JsonReply) => PlatformRefusal | undefined): Promise<JsonReply> {
    const { status, reply } = await observeUpstream({ provider: 'douyin', operation: endpoint, appId: app.appId }, () => this.http.fetchJson(app, endpoint, call), ({ reply }) => refusalOf(reply)?.code)
    const refusal = refusalOf(reply)
    if (refusal?.kind === 'code-invalid') throw new PhoneCodeInvalidError(`${endpoint} err_no ${refusal.code}: ${upstreamMessage(refusal.message, secrets)}`)
    if (refusal) {
      const { error, fix } = refusalError({ label: 'Douyin', option: 'douyin' }, app.appId, endpoint, refusal, secrets)
      if (fix) this.log.error({ appId: app.appId, endpoint, code: refusal.code }, fix)
      throw error
    }
    if (status < 200 || status > 299) throw new UpstreamError(`${endpoint} answered HTTP ${status}`)
    return reply
  }

  /** RSA PKCS#1 v1.5, unpadded here: Node refuses that padding in privateDecrypt (CVE-2023-46809); the ciphertext is Douyin's over TLS, no oracle. */
  private open (app: HttpPhoneCodeApp, sealed: string): Record<string, unknown> {
    try {
      const block = privateDecrypt({ key: app.privateKey, padding: constants.RSA_NO_PADDING }, Buffer.from(sealed, 'base64'))
      const parsed: unknown = JSON.parse(unpadPkcs1(block).toString('utf8'))
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>
    } catch {}
    this.log.error({ appId: app.appId }, `Douyin's phone number for app ${app.appId} does not open with douyin.phonePrivateKey: set the matching public key in Douyin's console (development settings)`)
    throw new MisconfiguredError(`Douyin app ${app.appId}'s phone data does not open with its key; the server log says what to fix`)
  }
}

/** The message of an RSAES-PKCS1-v1_5 block: 0x00 0x02, 8+ non-zero padding bytes, 0x00, the message. */
function unpadPkcs1 (block: Buffer): Buffer {
  const end = block.indexOf(0, 2)
  if (block[0] !== 0 || block[1] !== 2 || end < 10) throw new Error('not a PKCS#1 v1.5 block')
  return block.subarray(end + 1)
}

function tokenRefusalOf (reply: JsonReply): PlatformRefusal | undefined {
  const data = reply.data as JsonReply | undefined
  const code = Number(data?.error_code ?? 0)
  if (code === 0) return undefined
  const message = data?.description
  const problem = TOKEN_MISCONFIGURED.get(code)
  if (problem) return { kind: 'misconfigured', code, message, problem }
  return { kind: code === TOKEN_RATE_LIMITED ? 'rate-limited' : 'upstream', code, message }
}

function phoneRefusalOf (reply: JsonReply): PlatformRefusal | undefined {
  const code = Number(reply.err_no ?? 0)
  if (code === 0) return undefined
  return { kind: PHONE_CODE_INVALID.has(code) ? 'code-invalid' : 'upstream', code, message: reply.err_tips }
}
