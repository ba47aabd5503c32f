// The mini-program side of fastify-miniprogram-auth: log in with the
// platform's login call (wx.login, my.getAuthCode, tt.login, qq.login), keep
// the skey in storage, send it on every request, and log in again by itself
// when the server says the session is gone.
//
// It runs inside a mini-program, so it imports nothing: no Node built-ins, no
// server code, only the platform object (`wx`, `my`, `tt` or `qq`). What
// differs between the platforms lives in one table, ADAPTERS; the rest of the
// file is the same for all of them. It is compiled to ES2017 CommonJS
// (tsconfig.client.json), for WeChat's npm build and older base libraries: the
// package fastify-miniprogram-auth-client (client/dist) and the main
// package's "miniprogram" folder. One file on purpose (above the usual size):
// a mini-program project copies or builds exactly this, with nothing to
// resolve beside it.

export type Platform = 'wechat' | 'alipay' | 'douyin' | 'qq'
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

/** Callback options every platform API takes. */
interface Callbacks<T> {
  success?: (result: T) => void
  fail?: (error: unknown) => void
}

/** What a platform's request call hands to `success` (and my.request to `fail` on an HTTP error). */
interface RawResponse {
  data?: unknown
  /** wx, tt and qq */
  statusCode?: number
  header?: Record<string, string>
  /** my */
  status?: number
  headers?: Record<string, string>
}

/** wx.request, tt.request and qq.request: `header` in, `statusCode` and `header` out, `success` for any HTTP status. */
type HeaderRequest = (options: Callbacks<RawResponse> & { url: string, method: string, data?: unknown, header: Record<string, string>, dataType: string }) => void

/** Storage by key, as wx, tt and qq have it. */
interface KeyStorage {
  getStorageSync: (key: string) => unknown
  setStorageSync: (key: string, data: string) => void
  removeStorageSync: (key: string) => void
}

/** The part of `wx` this client uses. */
export interface WxApi extends KeyStorage {
  login: (options: Callbacks<{ code: string }>) => void
  request: HeaderRequest
}

/** The part of `qq` this client uses: the same shapes as `wx`. */
export type QqApi = WxApi

/**
 * The part of `tt` (Douyin) this client uses (its documentation lists only
 * 'json' and 'string' as tt.request's dataType). tt.login gives `code` only to a
 * user logged in to the host app (Douyin, Toutiao), `anonymousCode` always;
 * with `force` (its default) it first shows the host's login dialog.
 */
export interface TtApi extends KeyStorage {
  login: (options: Callbacks<{ code?: string, anonymousCode?: string, isLogin?: boolean }> & { force?: boolean }) => void
  request: HeaderRequest
}

/** The part of `my` this client uses: `headers`/`status`, and storage calls that take objects. */
export interface MyApi {
  getAuthCode: (options: Callbacks<{ authCode: string }> & { scopes: AlipayScope }) => void
  request: (options: Callbacks<RawResponse> & { url: string, method: string, data?: unknown, headers: Record<string, string>, dataType: string }) => void
  getStorageSync: (options: { key: string }) => { data?: unknown } | null | undefined
  setStorageSync: (options: { key: string, data: string }) => void
  removeStorageSync: (options: { key: string }) => void
  /** Only for `phoneNumber()`: call it from the onGetAuthorize of `<button open-type="getAuthorize" scope="phoneNumber">`. */
  getPhoneNumber?: (options: Callbacks<{ response: string }>) => void
}

/** The platform object of each platform. */
export interface PlatformApis {
  wechat: WxApi
  alipay: MyApi
  douyin: TtApi
  qq: QqApi
}

export interface AuthClientOptions<P extends Platform = Platform> {
  /** Where the server is, such as 'https://api.example.com'. */
  baseUrl: string
  platform: P
  /** The header that carries the skey; the server's `session.header`. Default 'x-skey'. */
  header?: string
  /** The storage key that keeps the skey. Default 'mpa:skey'. */
  storageKey?: string
  /** The server's route prefix. Default '/auth'. */
  prefix?: string
  /** Alipay: the scope of my.getAuthCode. Default 'auth_base' (silent, no consent dialog). */
  scope?: AlipayScope
  /**
   * Douyin: tt.login's `force`. Default true (as tt.login): a user not logged
   * in to the host app sees its login dialog; false logs such a user in
   * anonymously (anonymousCode only), if the server allows it.
   */
  force?: boolean
  /** The platform object. Default the global `wx` (wechat), `my` (alipay), `tt` (douyin) or `qq` (qq). */
  api?: PlatformApis[P]
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

/**
 * What a phone number button hands its handler (`event.detail`): WeChat's
 * `<button open-type="getPhoneNumber">` gives `{ code }` (or, on old base
 * libraries, `{ encryptedData, iv }`), Douyin's `{ encryptedData, iv }`; a
 * user who declines gives only `errMsg`.
 */
export interface PhoneNumberDetail {
  code?: string
  encryptedData?: string
  iv?: string
  errMsg?: string
}

/** The phone number replies: WeChat and Douyin `{ phoneNumber, purePhoneNumber, countryCode }`, Alipay `{ mobile }`. */
export interface PhoneNumberReply {
  phoneNumber?: string
  purePhoneNumber?: string
  countryCode?: string
  mobile?: string
}

export interface AuthClient {
  /** The platform's login call, the login route, the skey stored. Concurrent calls (for the same Alipay scope) share one login. */
  login: (options?: LoginOptions) => Promise<LoginReply>
  /** A request with the skey; resolves with the reply's data, rejects with an AuthClientError. */
  request: <T = unknown>(options: RequestOptions) => Promise<T>
  /**
   * The user's phone number from the server, as a request with the skey.
   * WeChat and Douyin: pass the phone number button's `event.detail`. Alipay:
   * pass nothing, call it from the onGetAuthorize of `<button
   * open-type="getAuthorize" scope="phoneNumber">`; it calls
   * my.getPhoneNumber and posts its `response`. QQ has no phone number route:
   * it rejects with a TypeError. A declined button or a failed
   * my.getPhoneNumber rejects with MPA_CLIENT_PHONE_FAILED.
   */
  phoneNumber: <T = PhoneNumberReply>(detail?: PhoneNumberDetail) => Promise<T>
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
  /**
   * The server's stable code (MPA_…), or for platform failures
   * 'MPA_CLIENT_REQUEST_FAILED', 'MPA_CLIENT_LOGIN_FAILED' or 'MPA_CLIENT_PHONE_FAILED'.
   */
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

/** One HTTP exchange as the client hands it to the platform: the body already a JSON string. */
interface PlatformRequest {
  url: string
  method: Method
  headers: Record<string, string>
  data: string | undefined
}

/**
 * What the client needs of a platform, with its object bound: the same shape
 * for every platform. The routes are the server's: `{prefix}/{platform}/login`
 * and `{prefix}/{platform}/phone`.
 */
interface Port {
  /** The platform's login call, such as 'wx.login', for messages. */
  loginCall: string
  /** Runs the login call; resolves with the login route's body, rejects with what the platform said. */
  loginBody: (options: { scope: AlipayScope, force: boolean }) => Promise<Record<string, unknown>>
  /** Alipay: logins for different scopes are different logins (their replies differ). */
  scoped?: true
  /** Resolves with any HTTP reply, rejects with what the platform said when none arrived. */
  send: (request: PlatformRequest) => Promise<Response>
  read: (key: string) => unknown
  write: (key: string, skey: string) => void
  remove: (key: string) => void
  /** The phone number route's body, from the button's detail (or, on Alipay, my.getPhoneNumber); none on QQ. */
  phoneBody?: (detail: PhoneNumberDetail) => Promise<Record<string, string>>
}

interface Adapter<Api> {
  /** The free variable the platform provides, for messages. */
  global: string
  /** That variable, when this code runs inside the platform. */
  find: () => Api | undefined
  bind: (api: Api) => Port
}

/** What the platform said when a call failed: wx, tt and qq give errMsg, my gives errorMessage. */
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

/** A callback-style platform call as a promise. */
function call<T> (fn: (callbacks: Callbacks<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => fn({ success: resolve, fail: reject }))
}

/**
 * A reply handed to `fail` is still a reply: my.request does that for a
 * non-2xx status; tt.request's and qq.request's documentation do not say
 * whether they ever do, so every platform's `fail` is read this way.
 */
function failed (resolve: (response: Response) => void, reject: (error: unknown) => void) {
  return (error: unknown): void => {
    const { status, statusCode, data } = (error ?? {}) as RawResponse
    const code = status ?? statusCode
    if (typeof code === 'number') resolve({ statusCode: code, data: parse(data) })
    else reject(error)
  }
}

/**
 * Request and storage of wx, tt and qq. `dataType` is anything but 'json', so
 * the platform does not parse the reply (an empty 204 would fail to) and the
 * client parses it: wx and qq document "anything else", tt only 'string'.
 */
function headerPlatform (api: KeyStorage & { request: HeaderRequest }, dataType: 'text' | 'string'): Pick<Port, 'send' | 'read' | 'write' | 'remove'> {
  return {
    send: ({ url, method, headers, data }) => new Promise((resolve, reject) => {
      api.request({ url, method, data, header: headers, dataType, success: (res) => resolve({ statusCode: res.statusCode ?? 0, data: parse(res.data) }), fail: failed(resolve, reject) })
    }),
    read: (key) => {
      // tt.getStorageSync throws for a key it does not have ("data not found").
      try {
        return api.getStorageSync(key)
      } catch {
        return null
      }
    },
    write: (key, skey) => api.setStorageSync(key, skey),
    remove: (key) => api.removeStorageSync(key)
  }
}

/** wx.login and qq.login: the body is their `code`. */
function codeLogin (api: WxApi | QqApi): Port['loginBody'] {
  return async () => ({ code: (await call<{ code: string }>((callbacks) => api.login(callbacks))).code })
}

/**
 * A phone number button's detail as the route's body: the first of `shapes`
 * whose fields it has, those fields only (the routes take nothing else), or a
 * rejection with what the button said.
 */
function fromButton (...shapes: Array<ReadonlyArray<'code' | 'encryptedData' | 'iv'>>) {
  return async (detail: PhoneNumberDetail): Promise<Record<string, string>> => {
    for (const fields of shapes) {
      const body: Record<string, string> = {}
      for (const field of fields) {
        const value = detail[field]
        if (typeof value === 'string' && value !== '') body[field] = value
      }
      if (Object.keys(body).length === fields.length) return body
    }
    throw detail
  }
}

// A mini-program hands its object to each module as a free variable, not
// always as a property of globalThis (which older base libraries lack).
declare const wx: WxApi | undefined
declare const my: MyApi | undefined
declare const tt: TtApi | undefined
declare const qq: QqApi | undefined

/** Everything that differs between the platforms. */
const ADAPTERS: { [P in Platform]: Adapter<PlatformApis[P]> } = {
  wechat: {
    global: 'wx',
    find: () => typeof wx !== 'undefined' ? wx : undefined,
    bind: (api) => ({
      ...headerPlatform(api, 'text'),
      loginCall: 'wx.login',
      loginBody: codeLogin(api),
      // Current base libraries give a code; old ones the encrypted number.
      phoneBody: fromButton(['code'], ['encryptedData', 'iv'])
    })
  },
  alipay: {
    global: 'my',
    find: () => typeof my !== 'undefined' ? my : undefined,
    bind: (api) => ({
      send: ({ url, method, headers, data }) => new Promise((resolve, reject) => {
        api.request({ url, method, data, headers, dataType: 'text', success: (res) => resolve({ statusCode: res.status ?? 0, data: parse(res.data) }), fail: failed(resolve, reject) })
      }),
      read: (key) => api.getStorageSync({ key })?.data,
      write: (key, skey) => api.setStorageSync({ key, data: skey }),
      remove: (key) => api.removeStorageSync({ key }),
      loginCall: 'my.getAuthCode',
      loginBody: async ({ scope }) => ({ authCode: (await call<{ authCode: string }>((callbacks) => api.getAuthCode({ scopes: scope, ...callbacks }))).authCode, scope }),
      scoped: true,
      // `response` is the signed and encrypted JSON string, as my.getPhoneNumber gave it.
      phoneBody: async () => {
        if (!api.getPhoneNumber) throw new TypeError('this my object has no getPhoneNumber')
        return { response: (await call<{ response: string }>((callbacks) => api.getPhoneNumber!(callbacks))).response }
      }
    })
  },
  douyin: {
    global: 'tt',
    find: () => typeof tt !== 'undefined' ? tt : undefined,
    bind: (api) => ({
      loginCall: 'tt.login',
      // What tt.login gave: `code` for a user logged in to the host app, `anonymousCode` always.
      loginBody: async ({ force }) => {
        const { code, anonymousCode } = await call<{ code?: string, anonymousCode?: string }>((callbacks) => api.login({ force, ...callbacks }))
        return { ...(code ? { code } : {}), ...(anonymousCode ? { anonymousCode } : {}) }
      },
      ...headerPlatform(api, 'string'),
      phoneBody: fromButton(['encryptedData', 'iv'])
    })
  },
  qq: {
    global: 'qq',
    find: () => typeof qq !== 'undefined' ? qq : undefined,
    bind: (api) => ({ ...headerPlatform(api, 'text'), loginCall: 'qq.login', loginBody: codeLogin(api) })
  }
}

/** The platform's object bound into its port; typed per platform so each adapter gets its own object. */
function portOf<P extends Platform> (platform: P, given: PlatformApis[P] | undefined): Port | undefined {
  const adapter: Adapter<PlatformApis[P]> = ADAPTERS[platform]
  const api = given ?? adapter.find()
  return api ? adapter.bind(api) : undefined
}

export function createAuthClient<P extends Platform> (options: AuthClientOptions<P>): AuthClient {
  const { platform } = options
  if (!Object.prototype.hasOwnProperty.call(ADAPTERS, platform)) {
    throw new TypeError(`platform must be one of ${Object.keys(ADAPTERS).map((name) => `'${name}'`).join(', ')} (got ${JSON.stringify(platform)})`)
  }
  if (typeof options.baseUrl !== 'string' || !/^https?:\/\/[^/?#@]+(\/[^?#]*)?$/.test(options.baseUrl)) {
    throw new TypeError(`baseUrl must be an http(s) URL (got ${JSON.stringify(options.baseUrl)})`)
  }
  const baseUrl = options.baseUrl.replace(/\/+$/, '')
  const header = options.header ?? 'x-skey'
  const storageKey = options.storageKey ?? 'mpa:skey'
  const prefix = options.prefix ?? '/auth'
  const defaultScope = options.scope ?? 'auth_base'
  const force = options.force ?? true
  const found = portOf(platform, options.api)
  if (!found) throw new TypeError(`no ${ADAPTERS[platform].global} object: run inside the mini-program or pass options.api`)
  const port: Port = found

  function readSkey (): string | null {
    const stored = port.read(storageKey)
    return typeof stored === 'string' && stored !== '' ? stored : null
  }

  function writeSkey (skey: string | null): void {
    if (skey === null) port.remove(storageKey)
    else port.write(storageKey, skey)
  }

  /** The full URL of a request, and whether it goes to our server (the only one that gets the skey). */
  function target (url: string): { url: string, ours: boolean } {
    if (/^https?:\/\//.test(url)) return { url, ours: url === baseUrl || url.startsWith(`${baseUrl}/`) }
    // Only a path: 'api/x' or '@evil.example/x' appended to baseUrl would change its host.
    if (!url.startsWith('/')) throw new TypeError(`url must be a path starting with '/' or an http(s) URL (got ${JSON.stringify(url)})`)
    return { url: baseUrl + url, ours: true }
  }

  /** One HTTP exchange through the platform's request call; rejects only when no reply arrived. */
  async function send (request: RequestOptions, skey: string | null): Promise<Response> {
    const method = request.method ?? 'GET'
    const { url: base, ours } = target(request.url)
    const url = method === 'GET' ? withQuery(base, request.data) : base
    const headers: Record<string, string> = { ...request.header }
    // Never hand the skey to another host: it is a bearer credential.
    if (skey !== null && ours) headers[header] = skey
    // JSON in, whatever the platform's default; the body is sent as a string so
    // no platform form-encodes it.
    let data: string | undefined
    if (method !== 'GET' && request.data !== undefined) {
      headers['content-type'] = 'application/json'
      data = JSON.stringify(request.data)
    }
    try {
      return await port.send({ url, method, headers, data })
    } catch (error) {
      throw new AuthClientError(0, 'MPA_CLIENT_REQUEST_FAILED', `${method} ${url} failed: ${describe(error)}`, error)
    }
  }

  function errorOf (response: Response): AuthClientError {
    const body = (response.data ?? {}) as { code?: unknown, message?: unknown }
    const code = typeof body.code === 'string' ? body.code : `HTTP_${response.statusCode}`
    const message = typeof body.message === 'string' ? body.message : `the server answered HTTP ${response.statusCode}`
    return new AuthClientError(response.statusCode, code, message, response.data)
  }

  const ok = (response: Response): boolean => response.statusCode >= 200 && response.statusCode < 300

  async function freshLogin (scope: AlipayScope): Promise<LoginReply> {
    const body = await port.loginBody({ scope, force }).catch((error: unknown) => {
      throw new AuthClientError(0, 'MPA_CLIENT_LOGIN_FAILED', `${port.loginCall} failed: ${describe(error)}`, error)
    })
    const response = await send({ url: `${prefix}/${platform}/login`, method: 'POST', data: body }, null)
    if (!ok(response)) throw errorOf(response)
    const reply = response.data as LoginReply
    writeSkey(reply.skey)
    return reply
  }

  // The logins in flight: callers share one, and on Alipay one per scope, so
  // an auth_user caller never gets an auth_base login's reply.
  const inFlight = new Map<string, Promise<LoginReply>>()

  function login (loginOptions: LoginOptions = {}): Promise<LoginReply> {
    const scope = loginOptions.scope ?? defaultScope
    const key = port.scoped ? scope : platform
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

  async function phoneNumber<T> (detail?: PhoneNumberDetail): Promise<T> {
    const { phoneBody } = port
    if (!phoneBody) throw new TypeError(`phoneNumber: ${platform} has no phone number route`)
    const data = await phoneBody(detail ?? {}).catch((error: unknown) => {
      throw new AuthClientError(0, 'MPA_CLIENT_PHONE_FAILED', `the phone number was not given: ${describe(error)}`, error)
    })
    return request<T>({ url: `${prefix}/${platform}/phone`, method: 'POST', data })
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

  return { login, request, phoneNumber, logout, skey: readSkey }
}
