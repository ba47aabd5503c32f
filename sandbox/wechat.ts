import { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

// A local stand-in for api.weixin.qq.com with the endpoints mini-program login
// uses. It keeps WeChat's state rules (single-use codes, session_key rotation,
// token lifetimes) so tests exercise the real flows, and it injects faults.
// It logs nothing, so no secret can leak from it.

export type WechatSandboxEndpoint = 'jscode2session' | 'token' | 'stable_token' | 'getuserphonenumber' | 'checksession'

export interface WechatSandboxPhone {
  purePhoneNumber: string
  /** A number is sent as a number: WeChat has done both. */
  countryCode: string | number
  /** Default: purePhoneNumber for 86, else '+<countryCode><purePhoneNumber>'. */
  phoneNumber?: string
}

export interface WechatSandboxProfile {
  nickName: string
  gender: number
  language: string
  city: string
  province: string
  country: string
  avatarUrl: string
}

export interface WechatSandboxUser {
  openId: string
  unionId?: string
  /** A mainland number as a string, or any number with its country code. */
  phone?: string | WechatSandboxPhone
  profile?: Partial<WechatSandboxProfile>
}

export interface WechatSandboxFault {
  /** Answer HTTP 200 with this errcode instead of doing the work. */
  errcode?: number
  errmsg?: string
  /** Wait this long before answering. */
  delayMs?: number
  /** Serve the answer as text/plain, as WeChat sometimes does. */
  textPlain?: boolean
  /** Answer with a truncated, unparseable body. */
  malformed?: boolean
  /** Answer with this HTTP status and an HTML body, as a failing gateway does. */
  httpStatus?: number
  /** How many requests the fault applies to. Default 1; Infinity for all. */
  times?: number
}

export interface WechatSandboxOptions {
  /** appId → appSecret of the apps WeChat knows. */
  apps?: Record<string, string>
  /** Default 0 (any free port). */
  port?: number
  /** Default '127.0.0.1'. */
  host?: string
  /** The clock, in epoch ms, for code expiry, token lifetimes and watermarks. Default Date.now. */
  now?: () => number
  /** Access token lifetime in seconds. Default 7200, as WeChat's. */
  accessTokenTtl?: number
}

export interface EncryptedPayload {
  encryptedData: string
  iv: string
}

export interface SignedUserInfo extends EncryptedPayload {
  rawData: string
  signature: string
  /** What decryption yields. */
  userInfo: Record<string, unknown>
}

export interface WechatSandbox {
  /** Pass it as the wechat baseUrl. */
  readonly url: string
  /** Requests received, per endpoint (faults included). */
  readonly calls: Record<WechatSandboxEndpoint, number>
  /** stable_token calls with force_refresh: true. */
  readonly forcedRefreshes: number
  addApp: (appId: string, appSecret: string) => void
  /** Plays wx.login: a single-use code valid 5 minutes, and a fresh session_key for the user. */
  issueCode: (user: WechatSandboxUser, appId?: string) => string
  /** The session_key WeChat currently holds for the user (the one its client encrypts with). */
  sessionKeyOf: (openId: string, appId?: string) => string
  /** What wx.getUserInfo gives the mini-program: encrypted with the current session_key. */
  userInfo: (openId: string, appId?: string) => SignedUserInfo
  /** What the legacy getPhoneNumber button gives: encrypted with the current session_key. */
  phoneData: (openId: string, appId?: string) => EncryptedPayload
  /** What the current getPhoneNumber button gives: a code for getuserphonenumber. */
  phoneCode: (openId: string, appId?: string) => string
  /** Makes the next `times` requests to an endpoint fail as described. */
  fail: (endpoint: WechatSandboxEndpoint, fault: WechatSandboxFault) => void
  clearFaults: () => void
  /** Every secret it has handed out (app secrets, session_keys, access tokens), for leak checks. */
  secrets: () => string[]
  close: () => Promise<void>
}

const CODE_TTL_MS = 5 * 60_000
// Normal-mode stable_token hands out a new token in the last 5 minutes, and a
// token replaced by cgi-bin/token stays valid 5 more minutes.
const OVERLAP_MS = 5 * 60_000
const MAX_BODY = 64 * 1024

const ROUTES: Record<string, WechatSandboxEndpoint> = {
  'GET /sns/jscode2session': 'jscode2session',
  'GET /cgi-bin/token': 'token',
  'POST /cgi-bin/stable_token': 'stable_token',
  'POST /wxa/business/getuserphonenumber': 'getuserphonenumber',
  'GET /wxa/checksession': 'checksession'
}

const ERRMSG: Record<number, string> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40013: 'invalid appid',
  40029: 'invalid code',
  40125: 'invalid appsecret',
  40163: 'code been used',
  40226: 'code blocked',
  41001: 'access_token missing',
  41002: 'appid missing',
  41008: 'missing code',
  42001: 'access_token expired',
  45011: 'api minute-quota reach limit mustslower retry next minute',
  47001: 'data format error',
  87009: 'invalid signature'
}

const DEFAULT_PROFILE: WechatSandboxProfile = {
  nickName: 'Sandbox User', gender: 0, language: 'zh_CN', city: '', province: '', country: '', avatarUrl: ''
}

/** AES-128-CBC with PKCS#7 under a session_key, as the WeChat client encrypts user data. */
export function encryptData (data: string | object, sessionKey: string, iv: string = randomBytes(16).toString('base64')): EncryptedPayload {
  const plain = typeof data === 'string' ? data : JSON.stringify(data)
  const cipher = createCipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), Buffer.from(iv, 'base64'))
  return { encryptedData: Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]).toString('base64'), iv }
}

/** hex(sha1(rawData + session_key)), the signature wx.getUserInfo gives. */
export function signRawData (rawData: string, sessionKey: string): string {
  return createHash('sha1').update(rawData + sessionKey, 'utf8').digest('hex')
}

function rid (): string {
  return [4, 4, 4].map((n) => randomBytes(n).toString('hex')).join('-')
}

/** Codes in standard base64 always hold '+' and '/': a client that does not URL-encode them fails, as against WeChat. */
function newCode (): string {
  for (;;) {
    const code = randomBytes(24).toString('base64')
    if (code.includes('+') && code.includes('/')) return code
  }
}

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

interface Answer {
  status?: number
  body: Record<string, unknown>
}

export async function createWechatSandbox (options: WechatSandboxOptions = {}): Promise<WechatSandbox> {
  const now = options.now ?? Date.now
  const tokenTtlMs = (options.accessTokenTtl ?? 7200) * 1000
  const apps = new Map<string, string>(Object.entries(options.apps ?? {}))
  const users = new Map<string, UserState>()
  const codes = new Map<string, IssuedCode>()
  const phoneCodes = new Map<string, IssuedCode>()
  const tokens = new Map<string, Token>()
  const stableTokens = new Map<string, string>()
  const classicTokens = new Map<string, string>()
  const issued = new Set<string>()
  const faults = new Map<WechatSandboxEndpoint, Array<WechatSandboxFault & { times: number }>>()
  const calls: Record<WechatSandboxEndpoint, number> = { jscode2session: 0, token: 0, stable_token: 0, getuserphonenumber: 0, checksession: 0 }
  let forcedRefreshes = 0

  const userKey = (appId: string, openId: string) => `${appId}\n${openId}`
  const error = (errcode: number, errmsg = ERRMSG[errcode] ?? 'sandbox fault'): Answer => ({ body: { errcode, errmsg: `${errmsg}, rid: ${rid()}` } })

  function defaultAppId (appId?: string): string {
    const id = appId ?? apps.keys().next().value
    if (id === undefined || !apps.has(id)) throw new Error(`WeChat sandbox: unknown app ${JSON.stringify(id)}; addApp(appId, secret) first`)
    return id
  }

  function stateOf (openId: string, appId?: string): UserState & { appId: string } {
    const id = defaultAppId(appId)
    const state = users.get(userKey(id, openId))
    if (!state) throw new Error(`WeChat sandbox: ${openId} never logged in to ${id}; issueCode() first`)
    return { ...state, appId: id }
  }

  function remember<T extends string> (secret: T): T {
    issued.add(secret)
    return secret
  }

  function newToken (appId: string): { access_token: string, expires_in: number } {
    const token = remember(randomBytes(48).toString('base64url'))
    tokens.set(token, { appId, expiresAt: now() + tokenTtlMs })
    return { access_token: token, expires_in: Math.floor(tokenTtlMs / 1000) }
  }

  /** The error for bad credentials, or null when appid and secret match. */
  function credentialsError (appId: unknown, secret: unknown): Answer | null {
    if (typeof appId !== 'string' || appId === '') return error(41002)
    if (!apps.has(appId)) return error(40013)
    if (apps.get(appId) !== secret) return error(40125)
    return null
  }

  /** The app of a valid access token, or the error WeChat gives for it. */
  function tokenApp (token: string | null): string | Answer {
    if (!token) return error(41001)
    const found = tokens.get(token)
    if (!found) return error(40001)
    if (now() >= found.expiresAt) return error(42001)
    return found.appId
  }

  function takeCode (store: Map<string, IssuedCode>, code: unknown, appId: string, usedErrcode: number): IssuedCode | Answer {
    if (typeof code !== 'string' || code === '') return error(41008)
    const found = store.get(code)
    if (!found || found.appId !== appId || now() - found.issuedAt >= CODE_TTL_MS) return error(40029)
    if (found.used) return error(usedErrcode)
    found.used = true
    return found
  }

  const handlers: Record<WechatSandboxEndpoint, (query: URLSearchParams, body: Record<string, unknown>) => Answer> = {
    jscode2session (query) {
      const appId = query.get('appid')
      const refused = credentialsError(appId, query.get('secret'))
      if (refused) return refused
      if (query.get('grant_type') !== 'authorization_code') return error(40002)
      const code = takeCode(codes, query.get('js_code'), appId!, 40163)
      if ('body' in code) return code
      const { user } = users.get(userKey(code.appId, code.openId))!
      return { body: { session_key: code.sessionKey, openid: user.openId, ...(user.unionId ? { unionid: user.unionId } : {}) } }
    },

    token (query) {
      const appId = query.get('appid')
      const refused = credentialsError(appId, query.get('secret'))
      if (refused) return refused
      if (query.get('grant_type') !== 'client_credential') return error(40002)
      // A new token; the previous one lives 5 more minutes at most.
      const previous = tokens.get(classicTokens.get(appId!) ?? '')
      if (previous) previous.expiresAt = Math.min(previous.expiresAt, now() + OVERLAP_MS)
      const answer = newToken(appId!)
      classicTokens.set(appId!, answer.access_token)
      return { body: answer }
    },

    stable_token (_query, body) {
      const refused = credentialsError(body.appid, body.secret)
      if (refused) return refused
      if (body.grant_type !== 'client_credential') return error(40002)
      const appId = body.appid as string
      const current = stableTokens.get(appId)
      const token = current === undefined ? undefined : tokens.get(current)
      if (body.force_refresh === true) {
        forcedRefreshes++
        // Forced: the previous token stops working at once.
        if (current !== undefined) tokens.delete(current)
      } else if (current !== undefined && token && token.expiresAt - now() > Math.min(OVERLAP_MS, tokenTtlMs / 2)) {
        // Normal mode: the same token while it is valid, a new one in its last minutes.
        return { body: { access_token: current, expires_in: Math.floor((token.expiresAt - now()) / 1000) } }
      }
      const answer = newToken(appId)
      stableTokens.set(appId, answer.access_token)
      return { body: answer }
    },

    getuserphonenumber (query, body) {
      const appId = tokenApp(query.get('access_token'))
      if (typeof appId !== 'string') return appId
      // getuserphonenumber knows no 40163: a used code is just invalid.
      const code = takeCode(phoneCodes, body.code, appId, 40029)
      if ('body' in code) return code
      const { phone } = users.get(userKey(appId, code.openId))!.user
      return { body: { errcode: 0, errmsg: 'ok', phone_info: { ...phoneOf(phone!), watermark: watermark(appId) } } }
    },

    checksession (query) {
      const appId = tokenApp(query.get('access_token'))
      if (typeof appId !== 'string') return appId
      const state = users.get(userKey(appId, query.get('openid') ?? ''))
      if (!state) return error(40003)
      const expected = createHmac('sha256', state.sessionKey).update('').digest('hex')
      if (query.get('sig_method') !== 'hmac_sha256' || query.get('signature')?.toLowerCase() !== expected) return error(87009)
      return { body: { errcode: 0, errmsg: 'ok' } }
    }
  }

  function watermark (appId: string): { timestamp: number, appid: string } {
    return { timestamp: Math.floor(now() / 1000), appid: appId }
  }

  function takeFault (endpoint: WechatSandboxEndpoint): WechatSandboxFault | undefined {
    const queue = faults.get(endpoint)
    const fault = queue?.[0]
    if (fault && --fault.times <= 0) queue!.shift()
    return fault
  }

  const timers = new Set<NodeJS.Timeout>()
  function delay (ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer)
        resolve()
      }, ms)
      timers.add(timer)
    })
  }

  async function readBody (req: IncomingMessage): Promise<string> {
    let size = 0
    const chunks: Buffer[] = []
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > MAX_BODY) throw new Error('body too large')
      chunks.push(chunk as Buffer)
    }
    return Buffer.concat(chunks).toString('utf8')
  }

  function answerTo (endpoint: WechatSandboxEndpoint, url: URL, method: string | undefined, text: string): Answer {
    let body: unknown = {}
    try {
      body = method === 'POST' ? JSON.parse(text) : {}
    } catch {
      return error(47001) // WeChat's answer to a body that is not JSON
    }
    return typeof body === 'object' && body !== null ? handlers[endpoint](url.searchParams, body as Record<string, unknown>) : error(47001)
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox')
    const endpoint = ROUTES[`${req.method} ${url.pathname}`]
    if (!endpoint) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
      return
    }
    calls[endpoint]++
    const text = await readBody(req)
    const fault = takeFault(endpoint)
    // An HTTP error fault answers instead of WeChat; otherwise WeChat does its
    // work now, before any delay, as the real one does: a caller that gives up
    // waiting has still spent its code (a retry then gets 40163).
    const answer = fault?.httpStatus ? null : fault?.errcode !== undefined ? error(fault.errcode, fault.errmsg) : answerTo(endpoint, url, req.method, text)
    if (fault?.delayMs) await delay(fault.delayMs)
    if (res.destroyed) return
    if (answer === null) {
      res.writeHead(fault?.httpStatus ?? 500, { 'content-type': 'text/html' }).end(`<html><body>${fault?.httpStatus}</body></html>`)
      return
    }
    const payload = JSON.stringify(answer.body)
    res.writeHead(answer.status ?? 200, { 'content-type': fault?.textPlain ? 'text/plain' : 'application/json; encoding=utf-8' })
    res.end(fault?.malformed ? payload.slice(0, Math.ceil(payload.length / 2)) : payload)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
      res.end()
    })
  })
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1')
  await once(server, 'listening')
  const { address, port } = server.address() as AddressInfo

  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    calls,
    get forcedRefreshes () { return forcedRefreshes },

    addApp (appId, appSecret) {
      apps.set(appId, appSecret)
    },

    issueCode (user, appId) {
      const id = defaultAppId(appId)
      const sessionKey = remember(randomBytes(16).toString('base64'))
      // A new session_key at each wx.login: the previous one stops working.
      users.set(userKey(id, user.openId), { user, sessionKey })
      const code = newCode()
      codes.set(code, { appId: id, openId: user.openId, sessionKey, issuedAt: now(), used: false })
      return code
    },

    sessionKeyOf: (openId, appId) => stateOf(openId, appId).sessionKey,

    userInfo (openId, appId) {
      const { user, sessionKey, appId: id } = stateOf(openId, appId)
      const profile = { ...DEFAULT_PROFILE, ...user.profile }
      const rawData = JSON.stringify(profile)
      const userInfo = { openId, ...profile, ...(user.unionId ? { unionId: user.unionId } : {}), watermark: watermark(id) }
      return { ...encryptData(userInfo, sessionKey), rawData, signature: signRawData(rawData, sessionKey), userInfo }
    },

    phoneData (openId, appId) {
      const { user, sessionKey, appId: id } = stateOf(openId, appId)
      if (!user.phone) throw new Error(`WeChat sandbox: ${openId} has no phone number`)
      return encryptData({ ...phoneOf(user.phone), watermark: watermark(id) }, sessionKey)
    },

    phoneCode (openId, appId) {
      const { user, appId: id } = stateOf(openId, appId)
      if (!user.phone) throw new Error(`WeChat sandbox: ${openId} has no phone number`)
      const code = randomBytes(32).toString('hex')
      phoneCodes.set(code, { appId: id, openId, issuedAt: now(), used: false })
      return code
    },

    fail (endpoint, fault) {
      if (!(endpoint in calls)) throw new Error(`WeChat sandbox: no endpoint ${JSON.stringify(endpoint)}`)
      const queue = faults.get(endpoint) ?? []
      queue.push({ ...fault, times: fault.times ?? 1 })
      faults.set(endpoint, queue)
    },

    clearFaults () {
      faults.clear()
    },

    secrets: () => [...apps.values(), ...issued],

    async close () {
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    }
  }
}

function phoneOf (phone: string | WechatSandboxPhone): WechatSandboxPhone & { phoneNumber: string } {
  const { purePhoneNumber, countryCode } = typeof phone === 'string' ? { purePhoneNumber: phone, countryCode: '86' } : phone
  const phoneNumber = (typeof phone === 'string' ? undefined : phone.phoneNumber) ??
    (String(countryCode) === '86' ? purePhoneNumber : `+${countryCode}${purePhoneNumber}`)
  return { phoneNumber, purePhoneNumber, countryCode }
}
