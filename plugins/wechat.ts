import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { createDecipheriv, createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { parseDuration } from '../lib/duration.js'
import { Apps, appOptionsOf } from '../lib/apps.js'
import { sha256Base64url } from '../lib/skey.js'
import {
  BadEncryptedDataError, CodeBlockedError, CodeInvalidError, MisconfiguredError, PhoneCodeInvalidError, SessionKeyExpiredError,
  SignatureMismatchError, UpstreamError, UpstreamRateLimitedError, UpstreamTimeoutError,
  WatermarkMismatchError
} from '../lib/errors.js'
import type { Session } from './sessions.js'

export interface WechatAppOptions {
  /** The mini-program AppID (wx…). */
  appId: string
  /** Its AppSecret. Never logged, never sent anywhere but WeChat. */
  appSecret: string
  /** Default 'https://api.weixin.qq.com'; a proxy or the sandbox in tests. */
  baseUrl?: string
  /** Longest wait for one WeChat call: seconds or a string like '800ms'. Default '5s'. */
  timeout?: number | string
}

export interface WechatPluginOptions {
  /** One app, or several served by one backend (the first is the default). */
  apps: WechatAppOptions | WechatAppOptions[]
}

export interface Code2SessionResult {
  appId: string
  openId: string
  unionId?: string
  /** Server-side secret: keep it in the session, never send it to the client. */
  sessionKey: string
}

export interface PhoneNumber {
  /** With the country code for numbers outside mainland China. */
  phoneNumber: string
  purePhoneNumber: string
  countryCode: string
}

export interface WechatClient {
  /** Configured AppIDs; the first is the default. */
  readonly appIds: readonly string[]
  /** The AppID a request names, or the default one; MPA_UNKNOWN_APP when it is not configured. */
  resolveAppId: (appId?: string) => string
  /** sns/jscode2session: a wx.login code for openid, unionid and session_key. */
  code2Session: (code: string, appId?: string) => Promise<Code2SessionResult>
  /** wxa/business/getuserphonenumber: a getPhoneNumber button code for the user's phone number. */
  getPhoneNumber: (code: string, appId?: string) => Promise<PhoneNumber>
  /** wxa/checksession: whether WeChat still holds this session_key for the user. */
  checkSessionKey: (openId: string, sessionKey: string, appId?: string) => Promise<boolean>
  /** The app's access token from cgi-bin/stable_token, shared by every instance through Redis. */
  accessToken: (appId?: string) => Promise<string>
  /** AES-128-CBC decryption of wx.getUserInfo / legacy getPhoneNumber data; checks watermark.appid. */
  decrypt: (sessionKey: string, encryptedData: string, iv: string, appId: string) => Record<string, unknown>
  /** Checks signature = sha1(rawData + session_key); MPA_SIGNATURE_MISMATCH otherwise. */
  verifyRawData: (rawData: string, signature: string, sessionKey: string) => void
  /** Records the session_key a login just got as the latest for this openid. */
  rememberSessionKey: (appId: string, openId: string, sessionKey: string) => Promise<void>
  /**
   * Decrypts data a session's client sent: with the latest session_key WeChat
   * issued for its openid (each wx.login rotates it), else the session's own.
   * Also gives the key that opened it, for the rawData signature.
   */
  openForSession: (session: Session, encryptedData: string, iv: string) => Promise<{ data: Record<string, unknown>, sessionKey: string }>
}

declare module 'fastify' {
  interface FastifyInstance {
    wechat: WechatClient
  }
}

interface App {
  appId: string
  appSecret: string
  pathPrefix: string
  timeoutMs: number
  pool: Pool
}

type Reply = Record<string, unknown>

interface Call {
  method: 'GET' | 'POST'
  query?: Record<string, string>
  body?: Record<string, unknown>
  /** Values to scrub from anything WeChat echoes back into an error message. */
  secrets: string[]
}

const DEFAULT_BASE_URL = 'https://api.weixin.qq.com'
const MAX_RESPONSE_BYTES = 64 * 1024
// Errcodes that mean the app's credentials or server setup are wrong, not the request.
const MISCONFIGURED = new Map([[40125, 'invalid appsecret'], [40013, 'invalid appid'], [40164, 'server IP not in the API IP whitelist']])
// The access token is stale or was replaced elsewhere: one forced refresh, one retry.
const STALE_TOKEN = new Set([40001, 42001, 40014])
const BUSY = -1
const TOKEN_POLL_MS = 50
// WeChat renews a stable token in its last 5 minutes; renew no earlier, or it answers with the same one.
const TOKEN_RENEW_MS = 5 * 60_000
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const RELEASE_LOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

interface CachedToken {
  token: string
  expiresAt: number
  renewAt: number
}

function validateApps (apps: WechatAppOptions | WechatAppOptions[] | undefined): Array<Omit<App, 'pool'> & { origin: string }> {
  return appOptionsOf(apps, 'wechat').map(({ options: entry, name: option }) => {
    const name = (field: string) => `${option}.${field}`
    const { appId, appSecret, baseUrl, timeout } = entry as Partial<WechatAppOptions>
    if (typeof appId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(appId)) {
      throw new TypeError(`${name('appId')} must be the mini-program AppID, such as 'wx0123456789abcdef' (got ${JSON.stringify(appId)})`)
    }
    // The value is never echoed: it is a secret.
    if (typeof appSecret !== 'string' || !/^\S{1,128}$/.test(appSecret)) {
      throw new TypeError(`${name('appSecret')} must be the AppSecret from the mini-program console (a non-empty string without spaces)`)
    }
    let url: URL
    try {
      url = new URL(baseUrl ?? DEFAULT_BASE_URL)
    } catch {
      throw new TypeError(`${name('baseUrl')} must be an http(s) URL (got ${JSON.stringify(baseUrl)})`)
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash || url.username) {
      throw new TypeError(`${name('baseUrl')} must be an http(s) URL without query, fragment or credentials (got ${JSON.stringify(baseUrl)})`)
    }
    const timeoutMs = parseDuration(timeout ?? '5s', name('timeout'))
    return { appId, appSecret, origin: url.origin, pathPrefix: url.pathname.replace(/\/+$/, ''), timeoutMs }
  })
}

function errcodeOf (reply: Reply): number {
  const { errcode } = reply
  if (errcode === undefined || errcode === null) return 0
  const n = typeof errcode === 'string' ? Number(errcode) : errcode
  return typeof n === 'number' && Number.isInteger(n) ? n : NaN
}

function stringField (reply: Reply, field: string, endpoint: string): string {
  const value = reply[field]
  if (typeof value !== 'string' || value === '') throw new UpstreamError(`${endpoint} answered without ${field}`)
  return value
}

function strictBase64 (value: string, field: string): Buffer {
  if (value.includes(' ')) {
    throw new BadEncryptedDataError(`${field} contains a space: a '+' was probably turned into a space by form or URL decoding on the way; send the value exactly as WeChat gave it, in a JSON body`)
  }
  if (!BASE64.test(value)) throw new BadEncryptedDataError(`${field} is not base64`)
  return Buffer.from(value, 'base64')
}

const wechatPlugin: FastifyPluginAsync<WechatPluginOptions> = async (fastify, options) => {
  const configs = validateApps(options?.apps)
  const store = fastify.sessions
  const redis = store.redis
  const log = fastify.log.child({ plugin: 'mpa-wechat' })

  // One pool per base URL, with the connect timeout of its most impatient app.
  const pools = new Map<string, Pool>()
  for (const { origin } of configs) {
    if (pools.has(origin)) continue
    const connectMs = Math.min(...configs.filter((c) => c.origin === origin).map((c) => c.timeoutMs))
    pools.set(origin, new Pool(origin, { connect: { timeout: connectMs }, maxResponseSize: MAX_RESPONSE_BYTES, keepAliveTimeout: 10_000 }))
  }
  const apps = new Apps<App>(configs.map(({ origin, ...config }) => ({ ...config, pool: pools.get(origin)! })))
  fastify.addHook('onClose', async () => {
    await Promise.all([...pools.values()].map((pool) => pool.close()))
  })

  const appOf = (appId?: string): App => apps.get(appId)

  /** One HTTP exchange: the parsed JSON object, or a 502/504. */
  async function fetchJson (app: App, endpoint: string, call: Call): Promise<{ status: number, reply: Reply }> {
    const query = call.query ? `?${new URLSearchParams(call.query)}` : ''
    let status: number
    let text: string
    try {
      const response = await app.pool.request({
        method: call.method,
        path: `${app.pathPrefix}/${endpoint}${query}`,
        headers: call.body ? { 'content-type': 'application/json' } : {},
        body: call.body ? JSON.stringify(call.body) : null,
        headersTimeout: app.timeoutMs,
        bodyTimeout: app.timeoutMs,
        // Also bounds a body that trickles in just under bodyTimeout per chunk.
        signal: AbortSignal.timeout(app.timeoutMs)
      })
      status = response.statusCode
      text = await response.body.text()
    } catch (err) {
      // Only the error code: undici messages are harmless today, but the cause stays out of replies and logs.
      const { code, name } = err as { code?: string, name?: string }
      if (name === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        throw new UpstreamTimeoutError(`${endpoint} after ${app.timeoutMs} ms`)
      }
      throw new UpstreamError(`${endpoint}: ${code ?? name ?? 'network error'}`)
    }
    if (status >= 500) throw new UpstreamError(`${endpoint} answered HTTP ${status}`)
    let reply: unknown
    try {
      // By content: WeChat has served JSON as text/plain.
      reply = JSON.parse(text)
    } catch {
      reply = null
    }
    if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) {
      throw new UpstreamError(`${endpoint} answered HTTP ${status} with a body that is not a JSON object`)
    }
    return { status, reply: reply as Reply }
  }

  /** A call with its errcode-as-HTTP-200 check left to the caller; retries once, with jitter, when WeChat is busy. */
  async function request (app: App, endpoint: string, call: Call): Promise<Reply> {
    for (let attempt = 1; ; attempt++) {
      const { status, reply } = await fetchJson(app, endpoint, call)
      const errcode = errcodeOf(reply)
      if (errcode === BUSY && attempt === 1) {
        await sleep(50 + Math.random() * 150)
        continue
      }
      if ((status < 200 || status > 299) && errcode === 0) throw new UpstreamError(`${endpoint} answered HTTP ${status}`)
      return reply
    }
  }

  /** The documented error for an errcode (DESIGN.md §5); unknown ones are a 502. */
  function errcodeError (app: App, endpoint: string, reply: Reply, secrets: string[]): Error {
    const errcode = errcodeOf(reply)
    let errmsg = typeof reply.errmsg === 'string' ? reply.errmsg.slice(0, 200) : ''
    for (const secret of secrets) errmsg = errmsg.replaceAll(secret, '[redacted]')
    const detail = `${endpoint} errcode ${Number.isNaN(errcode) ? JSON.stringify(reply.errcode) : errcode}${errmsg ? `: ${errmsg}` : ''}`
    switch (errcode) {
      case 40029:
      case 40163:
        return new CodeInvalidError(detail)
      case 45011:
        return new UpstreamRateLimitedError(detail)
      case 40226:
        return new CodeBlockedError(detail)
    }
    const problem = MISCONFIGURED.get(errcode)
    if (problem) {
      // The operator reads the details in the log; the client only learns that the server is at fault.
      log.error({ appId: app.appId, endpoint, errcode, errmsg }, `WeChat refused app ${app.appId}: ${problem}; check the wechat appId/appSecret options and the console's IP whitelist`)
      return new MisconfiguredError(`WeChat refused app ${app.appId} (${endpoint} errcode ${errcode}); the server log says what to fix`)
    }
    return new UpstreamError(detail)
  }

  async function code2Session (code: string, appId?: string): Promise<Code2SessionResult> {
    const app = appOf(appId)
    const endpoint = 'sns/jscode2session'
    const secrets = [app.appSecret]
    const reply = await request(app, endpoint, {
      method: 'GET',
      query: { appid: app.appId, secret: app.appSecret, js_code: code, grant_type: 'authorization_code' },
      secrets
    })
    if (errcodeOf(reply) !== 0) throw errcodeError(app, endpoint, reply, secrets)
    const result: Code2SessionResult = {
      appId: app.appId,
      openId: stringField(reply, 'openid', endpoint),
      sessionKey: stringField(reply, 'session_key', endpoint)
    }
    if (typeof reply.unionid === 'string' && reply.unionid !== '') result.unionId = reply.unionid
    return result
  }

  // --- access token: cached in Redis, one instance fetches at a time -------

  const tokenKey = (app: App) => store.key('wechat', 'token', app.appId)
  const tokenLockKey = (app: App) => store.key('wechat', 'token-lock', app.appId)
  // Concurrent callers in this process share one acquisition.
  const acquiring = new Map<string, Promise<string>>()

  async function readToken (app: App): Promise<CachedToken | null> {
    const raw = await store.withDeadline(() => redis.get(tokenKey(app)))
    return raw === null ? null : JSON.parse(raw) as CachedToken
  }

  async function fetchToken (app: App, forceRefresh: boolean): Promise<string> {
    const endpoint = 'cgi-bin/stable_token'
    const secrets = [app.appSecret]
    const reply = await request(app, endpoint, {
      method: 'POST',
      body: { grant_type: 'client_credential', appid: app.appId, secret: app.appSecret, ...(forceRefresh ? { force_refresh: true } : {}) },
      secrets
    })
    if (errcodeOf(reply) !== 0) throw errcodeError(app, endpoint, reply, secrets)
    const token = stringField(reply, 'access_token', endpoint)
    const lifetimeMs = Number(reply.expires_in) * 1000
    if (!(lifetimeMs > 0)) throw new UpstreamError(`${endpoint} answered without a valid expires_in`)
    const now = Date.now()
    const cached: CachedToken = { token, expiresAt: now + lifetimeMs, renewAt: now + lifetimeMs - Math.min(TOKEN_RENEW_MS, lifetimeMs / 2) }
    await store.withDeadline(() => redis.set(tokenKey(app), JSON.stringify(cached), 'PX', lifetimeMs))
    return token
  }

  /**
   * A usable token. `stale` is one WeChat just refused: it is replaced by a
   * forced refresh unless another instance has already replaced it.
   */
  async function acquireToken (app: App, stale?: string): Promise<string> {
    // Long enough for a fetch and its one retry.
    const lockMs = app.timeoutMs * 2 + 1000
    const waitUntil = Date.now() + lockMs
    for (;;) {
      const cached = await readToken(app)
      const usable = cached && cached.token !== stale ? cached : null
      if (usable && Date.now() < usable.renewAt) return usable.token
      const lockId = randomUUID()
      // PXAT: a lock that ioredis resends after an outage expires when it would have.
      if (await store.withDeadline(() => redis.set(tokenLockKey(app), lockId, 'PXAT', Date.now() + lockMs, 'NX')) === 'OK') {
        try {
          // Another instance may have renewed it between our read and our lock.
          const latest = await readToken(app)
          if (latest && latest.token !== stale && Date.now() < latest.renewAt) return latest.token
          return await fetchToken(app, stale !== undefined)
        } finally {
          await store.withDeadline(() => redis.eval(RELEASE_LOCK, 1, tokenLockKey(app), lockId)).catch(() => {})
        }
      }
      // Another instance is renewing: a token still valid serves meanwhile.
      if (usable && Date.now() < usable.expiresAt) return usable.token
      if (Date.now() >= waitUntil) throw new UpstreamTimeoutError('cgi-bin/stable_token (another instance is still fetching the access token)')
      await sleep(TOKEN_POLL_MS)
    }
  }

  function tokenFor (app: App, stale?: string): Promise<string> {
    const key = `${app.appId}\n${stale ?? ''}`
    let pending = acquiring.get(key)
    if (!pending) {
      pending = acquireToken(app, stale).finally(() => acquiring.delete(key))
      acquiring.set(key, pending)
    }
    return pending
  }

  /** A call that carries the access token; a stale token gets one forced refresh and one retry. */
  async function requestWithToken (app: App, endpoint: string, build: (token: string) => Call): Promise<{ reply: Reply, secrets: string[] }> {
    let token = await tokenFor(app)
    let call = build(token)
    let reply = await request(app, endpoint, call)
    if (STALE_TOKEN.has(errcodeOf(reply))) {
      log.info({ appId: app.appId, endpoint, errcode: errcodeOf(reply) }, 'WeChat refused the access token: refreshing it')
      token = await tokenFor(app, token)
      call = build(token)
      reply = await request(app, endpoint, call)
    }
    return { reply, secrets: call.secrets }
  }

  async function getPhoneNumber (code: string, appId?: string): Promise<PhoneNumber> {
    const app = appOf(appId)
    const endpoint = 'wxa/business/getuserphonenumber'
    const { reply, secrets } = await requestWithToken(app, endpoint, (token) => ({
      method: 'POST', query: { access_token: token }, body: { code }, secrets: [app.appSecret, token]
    }))
    const errcode = errcodeOf(reply)
    if (errcode === 40029) throw new PhoneCodeInvalidError(`${endpoint} errcode 40029`)
    if (errcode !== 0) throw errcodeError(app, endpoint, reply, secrets)
    const info = reply.phone_info
    const phone = typeof info === 'object' && info !== null ? phoneNumberOf(info as Reply) : null
    if (!phone) throw new UpstreamError(`${endpoint} answered without a complete phone_info`)
    return phone
  }

  async function checkSessionKey (openId: string, sessionKey: string, appId?: string): Promise<boolean> {
    const app = appOf(appId)
    const endpoint = 'wxa/checksession'
    const signature = createHmac('sha256', sessionKey).update('').digest('hex')
    const { reply, secrets } = await requestWithToken(app, endpoint, (token) => ({
      method: 'GET',
      query: { access_token: token, openid: openId, signature, sig_method: 'hmac_sha256' },
      secrets: [app.appSecret, token, sessionKey]
    }))
    const errcode = errcodeOf(reply)
    if (errcode === 87009) return false
    if (errcode !== 0) throw errcodeError(app, endpoint, reply, secrets)
    return true
  }

  // --- encrypted data ------------------------------------------------------

  function decrypt (sessionKey: string, encryptedData: string, iv: string, appId: string): Record<string, unknown> {
    const ivBytes = strictBase64(iv, 'iv')
    if (ivBytes.length !== 16) throw new BadEncryptedDataError(`iv must be 16 bytes (got ${ivBytes.length})`)
    const data = strictBase64(encryptedData, 'encryptedData')
    if (data.length === 0 || data.length % 16 !== 0) throw new BadEncryptedDataError('encryptedData must be a non-empty multiple of 16 bytes')
    const key = Buffer.from(sessionKey, 'base64')
    if (key.length !== 16) throw new SessionKeyExpiredError()
    let plain: unknown
    try {
      const decipher = createDecipheriv('aes-128-cbc', key, ivBytes)
      plain = JSON.parse(Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8'))
    } catch {
      // Well-formed data that this key cannot open (bad padding, or garbage
      // that is not JSON): it was encrypted with another session_key.
      throw new SessionKeyExpiredError()
    }
    if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) throw new SessionKeyExpiredError()
    const watermark = (plain as { watermark?: { appid?: unknown } }).watermark
    if (watermark?.appid !== appId) throw new WatermarkMismatchError()
    return plain as Record<string, unknown>
  }

  function verifyRawData (rawData: string, signature: string, sessionKey: string): void {
    const expected = createHash('sha1').update(rawData + sessionKey, 'utf8').digest()
    const given = /^[0-9a-fA-F]{40}$/.test(signature) ? Buffer.from(signature, 'hex') : null
    if (!given || !timingSafeEqual(expected, given)) throw new SignatureMismatchError()
  }

  // --- the latest session_key per openid -----------------------------------

  const latestKey = (appId: string, openId: string) => store.key('wechat', 'sk', sha256Base64url(`${appId}:${openId}`))

  async function rememberSessionKey (appId: string, openId: string, sessionKey: string): Promise<void> {
    // Outlives every session of this openid: none lives longer than maxAge.
    await store.withDeadline(() => redis.set(latestKey(appId, openId), sessionKey, 'PX', store.maxAgeMs))
  }

  async function openForSession (session: Session, encryptedData: string, iv: string): Promise<{ data: Record<string, unknown>, sessionKey: string }> {
    const { appId, openId } = session
    const latest = openId ? await store.withDeadline(() => redis.get(latestKey(appId, openId))) : null
    // The latest key first; then the session's own, for data the client
    // captured before a later login rotated the key.
    const keys = [...new Set([latest, session.secrets.sessionKey].filter((key): key is string => Boolean(key)))]
    for (const [i, sessionKey] of keys.entries()) {
      try {
        return { data: decrypt(sessionKey, encryptedData, iv, appId), sessionKey }
      } catch (err) {
        if (!(err instanceof SessionKeyExpiredError) || i === keys.length - 1) throw err
      }
    }
    throw new SessionKeyExpiredError()
  }

  const client: WechatClient = {
    appIds: apps.ids,
    resolveAppId: (appId) => appOf(appId).appId,
    code2Session,
    getPhoneNumber,
    checkSessionKey,
    accessToken: (appId) => tokenFor(appOf(appId)),
    decrypt,
    verifyRawData,
    rememberSessionKey,
    openForSession
  }
  fastify.decorate('wechat', client)
}

/** phone_info, or legacy decrypted phone data, with countryCode always a string (WeChat has sent both); null when incomplete. */
export function phoneNumberOf (info: Record<string, unknown>): PhoneNumber | null {
  const { phoneNumber, purePhoneNumber, countryCode } = info
  if (typeof phoneNumber !== 'string' || typeof purePhoneNumber !== 'string' || (typeof countryCode !== 'string' && typeof countryCode !== 'number')) {
    return null
  }
  return { phoneNumber, purePhoneNumber, countryCode: String(countryCode) }
}

export default fp(wechatPlugin, {
  name: 'mpa-wechat',
  fastify: '5.x',
  dependencies: ['mpa-sessions']
})
