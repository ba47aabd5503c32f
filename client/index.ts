// The mini-program side of fastify-miniprogram-auth: log in with wx.login or
// my.getAuthCode, keep the skey in storage, send it on every request, and log
// in again by itself when the server says the session is gone.
//
// It runs inside a mini-program, so it imports nothing: no Node built-ins, no
// server code, only the `wx` or `my` object the platform provides. `npm run
// build` also compiles it to ES2017 CommonJS in dist/miniprogram (package.json
// "miniprogram"), for WeChat's npm build and older base libraries. One file
// on purpose (above the usual size): a mini-program project copies or builds
// exactly this, with nothing to resolve beside it.

export type Platform = 'wechat' | 'alipay'
export type AlipayScope = 'auth_base' | 'auth_user'
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/**
 * The error codes of a 401 after which logging in again helps. The request is
 * then sent once more, except after MPA_SESSION_KEY_EXPIRED, whose encrypted
 * data the caller must get anew after the login.
 */
export const RELOGIN_CODES: readonly string[] = [
  'MPA_SKEY_MISSING', 'MPA_SKEY_MALFORMED', 'MPA_SESSION_EXPIRED', 'MPA_CODE_INVALID', 'MPA_SESSION_KEY_EXPIRED'
]

/** Callback options every wx / my API takes. */
interface Callbacks<T> {
  success?: (result: T) => void
  fail?: (error: unknown) => void
}

/** What wx.request and my.request hand to `success` (and my.request to `fail` on an HTTP error). */
interface RawResponse {
  data?: unknown
  /** wx.request */
  statusCode?: number
  header?: Record<string, string>
  /** my.request */
  status?: number
  headers?: Record<string, string>
}

/** The part of `wx` this client uses. */
export interface WxApi {
  login: (options: Callbacks<{ code: string }>) => void
  request: (options: Callbacks<RawResponse> & { url: string, method: string, data?: unknown, header: Record<string, string>, dataType: string }) => void
  getStorageSync: (key: string) => unknown
  setStorageSync: (key: string, data: string) => void
  removeStorageSync: (key: string) => void
}

/** The part of `my` this client uses: `headers`/`status`, and storage calls that take objects. */
export interface MyApi {
  getAuthCode: (options: Callbacks<{ authCode: string }> & { scopes: AlipayScope }) => void
  request: (options: Callbacks<RawResponse> & { url: string, method: string, data?: unknown, headers: Record<string, string>, dataType: string }) => void
  getStorageSync: (options: { key: string }) => { data?: unknown } | null | undefined
  setStorageSync: (options: { key: string, data: string }) => void
  removeStorageSync: (options: { key: string }) => void
}

// A mini-program hands `wx` / `my` to each module as a free variable, not
// always as a property of globalThis (which older base libraries lack).
declare const wx: WxApi | undefined
declare const my: MyApi | undefined

function platformApi (platform: Platform): WxApi | MyApi | undefined {
  if (platform === 'wechat') return typeof wx !== 'undefined' ? wx : undefined
  return typeof my !== 'undefined' ? my : undefined
}

export interface AuthClientOptions {
  /** Where the server is, such as 'https://api.example.com'. */
  baseUrl: string
  platform: Platform
  /** The header that carries the skey; the server's `session.header`. Default 'x-skey'. */
  header?: string
  /** The storage key that keeps the skey. Default 'mpa:skey'. */
  storageKey?: string
  /** The server's route prefix. Default '/auth'. */
  prefix?: string
  /** Alipay: the scope of my.getAuthCode. Default 'auth_base' (silent, no consent dialog). */
  scope?: AlipayScope
  /** The platform object. Default the global `wx` (wechat) or `my` (alipay). */
  api?: WxApi | MyApi
}

export interface RequestOptions {
  /** A path under baseUrl ('/api/orders') or an absolute URL (other hosts never get the skey). */
  url: string
  method?: Method
  /** Sent as JSON (as query parameters for GET). */
  data?: unknown
  header?: Record<string, string>
}

export interface LoginReply {
  skey: string
  expiresAt: number
  user: { id: string | number, [field: string]: unknown }
  [field: string]: unknown
}

export interface LoginOptions {
  /** Alipay: overrides the client's scope for this login. */
  scope?: AlipayScope
}

export interface LogoutOptions {
  /** Revoke every session of this user (DELETE /sessions) instead of this device's. */
  everywhere?: boolean
}

export interface AuthClient {
  /** wx.login / my.getAuthCode, the login route, the skey stored. Concurrent calls for the same scope share one login. */
  login: (options?: LoginOptions) => Promise<LoginReply>
  /** A request with the skey; resolves with the reply's data, rejects with an AuthClientError. */
  request: <T = unknown>(options: RequestOptions) => Promise<T>
  /**
   * Waits for any login in flight, then revokes the session on the server and
   * forgets the skey (forgotten even when the server cannot be reached).
   */
  logout: (options?: LogoutOptions) => Promise<void>
  /** The stored skey, or null. */
  skey: () => string | null
}

/** A failed request: the server's error reply, or a platform failure (statusCode 0). */
export class AuthClientError extends Error {
  readonly statusCode: number
  /** The server's stable code (MPA_…), or 'MPA_CLIENT_REQUEST_FAILED' / 'MPA_CLIENT_LOGIN_FAILED' for platform failures. */
  readonly code: string
  readonly data: unknown

  constructor (statusCode: number, code: string, message: string, data?: unknown) {
    super(message)
    this.name = 'AuthClientError'
    this.statusCode = statusCode
    this.code = code
    this.data = data
  }
}

interface Response {
  statusCode: number
  data: unknown
}

/** What the platform said when a call failed: wx gives errMsg, my gives errorMessage. */
function describe (error: unknown): string {
  const { errMsg, errorMessage, error: code } = (error ?? {}) as { errMsg?: string, errorMessage?: string, error?: unknown }
  return errMsg ?? errorMessage ?? (code === undefined ? String(error) : `error ${String(code)}`)
}

/** The reply body: JSON parsed, an empty body as null, other text as is. */
function parse (data: unknown): unknown {
  if (data === '') return null
  if (typeof data !== 'string') return data
  try {
    return JSON.parse(data)
  } catch {
    return data
  }
}

/** The url with data appended as query parameters, after any it already has. */
function withQuery (url: string, data: unknown): string {
  if (data === undefined || data === null) return url
  const pairs = Object.entries(data as Record<string, unknown>)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
  if (pairs.length === 0) return url
  return url + (url.includes('?') ? '&' : '?') + pairs.join('&')
}

export function createAuthClient (options: AuthClientOptions): AuthClient {
  const { platform } = options
  if (platform !== 'wechat' && platform !== 'alipay') throw new TypeError(`platform must be 'wechat' or 'alipay' (got ${JSON.stringify(platform)})`)
  if (typeof options.baseUrl !== 'string' || !/^https?:\/\/[^/?#@]+(\/[^?#]*)?$/.test(options.baseUrl)) {
    throw new TypeError(`baseUrl must be an http(s) URL (got ${JSON.stringify(options.baseUrl)})`)
  }
  const baseUrl = options.baseUrl.replace(/\/+$/, '')
  const header = options.header ?? 'x-skey'
  const storageKey = options.storageKey ?? 'mpa:skey'
  const prefix = options.prefix ?? '/auth'
  const defaultScope = options.scope ?? 'auth_base'
  const api = options.api ?? platformApi(platform)
  if (!api) throw new TypeError(`no ${platform === 'wechat' ? 'wx' : 'my'} object: run inside the mini-program or pass options.api`)
  // Shadow the free variables: from here on, wx or my is the chosen api and the other is null.
  const wx = platform === 'wechat' ? api as WxApi : null
  const my = platform === 'alipay' ? api as MyApi : null

  function readSkey (): string | null {
    const stored = wx ? wx.getStorageSync(storageKey) : my!.getStorageSync({ key: storageKey })?.data
    return typeof stored === 'string' && stored !== '' ? stored : null
  }

  function writeSkey (skey: string | null): void {
    if (skey === null) {
      if (wx) wx.removeStorageSync(storageKey)
      else my!.removeStorageSync({ key: storageKey })
    } else if (wx) {
      wx.setStorageSync(storageKey, skey)
    } else {
      my!.setStorageSync({ key: storageKey, data: skey })
    }
  }

  /** The full URL of a request, and whether it goes to our server (the only one that gets the skey). */
  function target (url: string): { url: string, ours: boolean } {
    if (/^https?:\/\//.test(url)) return { url, ours: url === baseUrl || url.startsWith(`${baseUrl}/`) }
    // Only a path: 'api/x' or '@evil.example/x' appended to baseUrl would change its host.
    if (!url.startsWith('/')) throw new TypeError(`url must be a path starting with '/' or an http(s) URL (got ${JSON.stringify(url)})`)
    return { url: baseUrl + url, ours: true }
  }

  /** One HTTP exchange through wx.request or my.request; rejects only when no reply arrived. */
  function send (request: RequestOptions, skey: string | null): Promise<Response> {
    const method = request.method ?? 'GET'
    const { url: base, ours } = target(request.url)
    const url = method === 'GET' ? withQuery(base, request.data) : base
    const headers: Record<string, string> = { ...request.header }
    // Never hand the skey to another host: it is a bearer credential.
    if (skey !== null && ours) headers[header] = skey
    // JSON in, whatever the platform's default; the body is sent as a string so
    // neither platform form-encodes it.
    let data: string | undefined
    if (method !== 'GET' && request.data !== undefined) {
      headers['content-type'] = 'application/json'
      data = JSON.stringify(request.data)
    }
    return new Promise((resolve, reject) => {
      const fail = (error: unknown): void => {
        // my.request calls fail for a non-2xx status (error 19), with the reply attached.
        const { status, data: body } = (error ?? {}) as RawResponse
        if (typeof status === 'number') resolve({ statusCode: status, data: parse(body) })
        else reject(new AuthClientError(0, 'MPA_CLIENT_REQUEST_FAILED', `${method} ${url} failed: ${describe(error)}`, error))
      }
      // dataType 'text': the client parses JSON itself, so an empty 204 is no parse error on either platform.
      if (wx) {
        wx.request({ url, method, data, header: headers, dataType: 'text', success: (res) => resolve({ statusCode: res.statusCode ?? 0, data: parse(res.data) }), fail })
      } else {
        my!.request({ url, method, data, headers, dataType: 'text', success: (res) => resolve({ statusCode: res.status ?? 0, data: parse(res.data) }), fail })
      }
    })
  }

  function errorOf (response: Response): AuthClientError {
    const body = (response.data ?? {}) as { code?: unknown, message?: unknown }
    const code = typeof body.code === 'string' ? body.code : `HTTP_${response.statusCode}`
    const message = typeof body.message === 'string' ? body.message : `the server answered HTTP ${response.statusCode}`
    return new AuthClientError(response.statusCode, code, message, response.data)
  }

  const ok = (response: Response): boolean => response.statusCode >= 200 && response.statusCode < 300

  function platformCode (scope: AlipayScope): Promise<string> {
    return new Promise((resolve, reject) => {
      const fail = (error: unknown): void => reject(new AuthClientError(0, 'MPA_CLIENT_LOGIN_FAILED', `${wx ? 'wx.login' : 'my.getAuthCode'} failed: ${describe(error)}`, error))
      if (wx) wx.login({ success: (res) => resolve(res.code), fail })
      else my!.getAuthCode({ scopes: scope, success: (res) => resolve(res.authCode), fail })
    })
  }

  async function freshLogin (scope: AlipayScope): Promise<LoginReply> {
    const code = await platformCode(scope)
    const request: RequestOptions = wx
      ? { url: `${prefix}/wechat/login`, method: 'POST', data: { code } }
      : { url: `${prefix}/alipay/login`, method: 'POST', data: { authCode: code, scope } }
    const response = await send(request, null)
    if (!ok(response)) throw errorOf(response)
    const reply = response.data as LoginReply
    writeSkey(reply.skey)
    return reply
  }

  // The logins in flight, one per scope: callers asking for the same scope
  // share it, and an auth_user caller never gets an auth_base login's reply.
  const inFlight = new Map<string, Promise<LoginReply>>()

  function login (loginOptions: LoginOptions = {}): Promise<LoginReply> {
    const scope = loginOptions.scope ?? defaultScope
    const key = wx ? 'wechat' : scope // wx.login has no scopes
    let pending = inFlight.get(key)
    if (!pending) {
      const done = (): void => { inFlight.delete(key) }
      // then(done, done) rather than finally: Promise.prototype.finally is ES2018.
      pending = freshLogin(scope)
      pending.then(done, done)
      inFlight.set(key, pending)
    }
    return pending
  }

  /** Resolves once no login is in flight, including logins started while it waits. */
  async function loginsSettled (): Promise<void> {
    while (inFlight.size > 0) await Promise.all(Array.from(inFlight.values(), (p) => p.catch(() => {})))
  }

  // Counts logouts: a request that left before one must not log the device back in.
  let logouts = 0

  async function request<T> (requestOptions: RequestOptions): Promise<T> {
    // A request made while a login runs waits for the new skey instead of sending the old one.
    await loginsSettled()
    const sent = readSkey()
    const logoutsBefore = logouts
    let response = await send(requestOptions, sent)
    const code = (response.data as { code?: unknown } | null)?.code
    const relogin = response.statusCode === 401 && logouts === logoutsBefore && target(requestOptions.url).ours
    if (relogin && typeof code === 'string' && RELOGIN_CODES.includes(code)) {
      // Another request may have logged in since this one left: use its skey,
      // or share a login in flight (any scope gives a valid skey).
      const current = readSkey()
      const running = Array.from(inFlight.values())[0]
      const skey = current !== null && current !== sent ? current : (await (running ?? login())).skey
      // Encrypted data under a rotated session_key never opens, however often
      // it is sent: logged in again, the caller must get the data anew.
      if (code === 'MPA_SESSION_KEY_EXPIRED') throw errorOf(response)
      response = await send(requestOptions, skey)
    }
    if (!ok(response)) throw errorOf(response)
    return response.data as T
  }

  async function logout (logoutOptions: LogoutOptions = {}): Promise<void> {
    logouts++
    // A login that finished after this would store a new skey and leave the
    // device logged in: let it finish, then revoke whatever is stored.
    await loginsSettled()
    const skey = readSkey()
    if (skey === null) return
    try {
      const response = await send({ url: `${prefix}/${logoutOptions.everywhere ? 'sessions' : 'session'}`, method: 'DELETE' }, skey)
      // A 401 means the session is already gone: that is logged out too.
      if (!ok(response) && response.statusCode !== 401) throw errorOf(response)
    } finally {
      writeSkey(null)
    }
  }

  return { login, request, logout, skey: readSkey }
}
