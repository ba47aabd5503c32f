// The mini-program side of fastify-miniprogram-auth: log in with the
// platform's login call, keep the skey in storage, send it with every
// request, upload and download, and log in again by itself when the server
// says the session expired; not when it says the session was replaced,
// revoked or banned, which `onSessionEnd` tells the app instead.
//
// It runs inside a mini-program, so it imports nothing but its own files: no
// Node built-ins, no server code, only the platform object. It is compiled to
// ES2017 CommonJS (tsconfig.client.json) for WeChat's npm build and older base
// libraries. platform.ts is what a platform gives, adapters/ the built-in
// platforms, uni-app and Taro; transport.ts turns calls into the platform's,
// envelope.ts reads replies, storage.ts keeps the session on the device,
// relogin.ts shares logins; this file puts them together.

import { BUILT_IN, type Platform, type PlatformApis } from './adapters/index.js'
import { AuthClientError, describe, RELOGIN_CODES, SESSION_END_CODES, type SessionEndReason } from './errors.js'
import { contractError, readContractReply } from './envelope.js'
import { lookup, type BuiltIn, type PlatformAdapter } from './platform.js'
import { loginQueue } from './relogin.js'
import { sessionStore } from './storage.js'
import { createTransport } from './transport.js'
import type {
  AlipayScope, AuthClient, DownloadOptions, DownloadResult, LoginOptions, LoginReply,
  LogoutOptions, PhoneNumberDetail, Reply, ReplyError, ReplyReading, RequestOptions, ScannedTicket, ScanTicketState, SceneSource, SessionEnd, UploadOptions
} from './types.js'

export interface AuthClientOptions<P extends Platform = Platform> {
  /** Where the server is, such as 'https://api.example.com'. */
  baseUrl: string
  /**
   * A built-in platform's name, or an adapter: uniAdapter(uni), taroAdapter(Taro), or an app's own
   * (PlatformAdapter, with wxStyle for the platforms shaped like wx).
   */
  platform: P | PlatformAdapter
  /** The header that carries the skey; the server's `session.header`. Default 'x-skey'. */
  header?: string
  /** The storage key that keeps the skey (and, beside it, `<key>:scope` and `<key>:end`). Default 'mpa:skey'. */
  storageKey?: string
  /** The server's route prefix. Default '/auth'. */
  prefix?: string
  /** Alipay: the scope of the first login. Default 'auth_base' (silent, no consent dialog); a re-login asks the scope of the last login. */
  scope?: AlipayScope
  /**
   * Douyin: tt.login's `force`. Default true (as tt.login): a user not logged
   * in to the host app sees its login dialog; false logs such a user in
   * anonymously (anonymousCode only), if the server allows it.
   */
  force?: boolean
  /** A built-in platform's object. Default the global `wx`, `my`, `tt`, `qq`, `ks`, `swan` (or `wx` with `wx.qy` for WeCom). */
  api?: PlatformApis[P]
  /**
   * Reads a reply of the app's server: whether it failed (and how), and the
   * data the caller gets. Default readContractReply: a 2xx is data, anything
   * else an error `{ statusCode, code, message }` from the body.
   */
  readReply?: (reply: Reply) => ReplyReading
  /**
   * Called when the server ends the session for good (replaced, revoked,
   * banned): the skey is forgotten, and the helper logs in again only when the
   * app calls login(). Called before the failed call rejects.
   */
  onSessionEnd?: (end: SessionEnd) => void
}

export { AuthClientError, RELOGIN_CODES, SESSION_END_CODES, type SessionEndReason } from './errors.js'
export { readContractReply } from './envelope.js'
export { codeLogin, type Callbacks, type CodeLoginApi, type DownloadReply, type KeyValueStorage, type LoginContext, type PlatformAdapter, type PlatformDownload, type PlatformReply, type PlatformRequest, type PlatformUpload } from './platform.js'
export { wxStyle, type WxStyle, type WxStyleApi, type WxStyleDownloadOptions, type WxStyleOptions, type WxStyleRequestOptions, type WxStyleUploadOptions } from './adapters/wx-style.js'
export { uniAdapter, type UniApi } from './adapters/uni.js'
export { taroAdapter, type TaroApi } from './adapters/taro.js'
export type { FrameworkLoginResult, FrameworkTarget } from './adapters/frameworks.js'
export type { Platform, PlatformApis } from './adapters/index.js'
export type { WxApi } from './adapters/wechat.js'
export type { MyApi } from './adapters/alipay.js'
export type { TtApi } from './adapters/douyin.js'
export type { QqApi } from './adapters/qq.js'
export type { KsApi } from './adapters/kuaishou.js'
export type { SwanApi } from './adapters/baidu.js'
export type { WecomApi } from './adapters/wecom.js'
export type * from './types.js'

/** What a call ended with: the data the caller gets, or the error and the body that said it. */
type Outcome = { data: unknown } | { error: ReplyError, body: unknown }

export function createAuthClient<P extends Platform> (options: AuthClientOptions<P>): AuthClient {
  const adapter = adapterOf(options.platform, options.api)
  if (typeof options.baseUrl !== 'string' || !/^https?:\/\/[^/?#@]+(\/[^?#]*)?$/.test(options.baseUrl)) {
    throw new TypeError(`baseUrl must be an http(s) URL (got ${JSON.stringify(options.baseUrl)})`)
  }
  const prefix = options.prefix ?? '/auth'
  const defaultScope = options.scope ?? 'auth_base'
  const force = options.force ?? true
  const readReply = options.readReply ?? readContractReply
  const store = sessionStore(adapter.storage, options.storageKey ?? 'mpa:skey')
  const baseUrl = options.baseUrl.replace(/\/+$/, '')
  const transport = createTransport(adapter, baseUrl, options.header ?? 'x-skey')
  const logins = loginQueue()
  // Counts logouts: a call that left before one must not log the device back in.
  let logouts = 0

  function outcomeOf (reply: Reply): Outcome {
    const reading = readReply(reply)
    return 'error' in reading ? { error: reading.error, body: reply.data } : reading
  }

  /**
   * Forgets a session the server ended and tells the app, once: a reply for
   * an skey already forgotten, or replaced by a login since, changes nothing.
   */
  function endSession (sent: string | null, reason: SessionEndReason, { code, message }: ReplyError): void {
    if (sent !== store.skey()) return
    const end = { reason, code, message }
    store.forget(end)
    options.onSessionEnd?.(end)
  }

  async function freshLogin (scope: AlipayScope): Promise<LoginReply> {
    const body = await adapter.login({ scope, force }).catch((error: unknown) => {
      throw new AuthClientError(0, 'MPA_CLIENT_LOGIN_FAILED', `${adapter.loginCall} failed: ${describe(error)}`, error)
    })
    const outcome = outcomeOf(await transport.request({ url: `${prefix}/${adapter.name}/login`, method: 'POST', data: body }, null))
    if ('error' in outcome) {
      // A banned user's login (403 MPA_USER_BANNED) ends whatever session the device had.
      const reason = endReasonOf(outcome.error)
      if (reason) endSession(store.skey(), reason, outcome.error)
      throw errorOf(outcome)
    }
    const reply = outcome.data as Partial<LoginReply> | null
    if (typeof reply?.skey !== 'string') {
      throw new AuthClientError(0, 'MPA_CLIENT_LOGIN_FAILED', 'the login reply has no skey (does readReply give the login route\'s reply as data?)', reply)
    }
    store.loggedIn(reply.skey, adapter.scoped ? scope : null)
    return reply as LoginReply
  }

  function login (loginOptions: LoginOptions = {}): Promise<LoginReply> {
    const scope = loginOptions.scope ?? defaultScope
    return logins.join(adapter.scoped ? scope : '', () => freshLogin(scope))
  }

  /**
   * The skey to send again: one stored since `sent` left (another call logged
   * in), a login in flight (any scope's skey is valid), or a new login with
   * the scope of the last one, so an auth_user session comes back auth_user.
   */
  async function freshSkey (sent: string | null): Promise<string> {
    const current = store.skey()
    if (current !== null && current !== sent) return current
    return (await (logins.running() ?? login({ scope: store.scope() ?? defaultScope }))).skey
  }

  /**
   * A call with the skey. On a 401 that a login fixes, it logs in once and
   * sends once more, unless the server ended the session (then only login()
   * resumes); on a session end it forgets the skey and tells the app. Only
   * our server's replies count, and none after a logout made meanwhile.
   */
  async function withSession (url: string, send: (skey: string | null) => Promise<Outcome>): Promise<unknown> {
    // A call made while a login runs waits for the new skey instead of sending the old one.
    await logins.settled()
    const ours = transport.ours(url)
    const logoutsBefore = logouts
    let skey = store.skey()
    for (let retried = false; ; retried = true) {
      const outcome = await send(skey)
      if (!('error' in outcome)) return outcome.data
      const { error } = outcome
      if (ours && logouts === logoutsBefore) {
        const reason = endReasonOf(error)
        if (reason) {
          endSession(skey, reason, error)
        } else if (!retried && error.statusCode === 401 && RELOGIN_CODES.includes(error.code) && store.ended() === null) {
          skey = await freshSkey(skey)
          // Encrypted data under a rotated session_key never opens, however
          // often it is sent: logged in again, the caller must get it anew.
          if (error.code !== 'MPA_SESSION_KEY_EXPIRED') continue
        }
      }
      throw errorOf(outcome)
    }
  }

  function request<T> (requestOptions: RequestOptions): Promise<T> {
    return withSession(requestOptions.url, async (skey) => outcomeOf(await transport.request(requestOptions, skey))) as Promise<T>
  }

  function uploadFile<T> (uploadOptions: UploadOptions): Promise<T> {
    return withSession(uploadOptions.url, async (skey) => outcomeOf(await transport.upload(uploadOptions, skey))) as Promise<T>
  }

  function downloadFile (downloadOptions: DownloadOptions): Promise<DownloadResult> {
    return withSession(downloadOptions.url, async (skey) => {
      const { statusCode, tempFilePath, data } = await transport.download(downloadOptions, skey)
      if (statusCode >= 200 && statusCode < 300) return { data: { tempFilePath, statusCode } }
      // A download is judged by its status (a file is no envelope); its body, where the platform could read it, says why it failed.
      const reading = readReply({ statusCode, data })
      return { error: 'error' in reading ? reading.error : contractError({ statusCode, data }), body: data }
    }) as Promise<DownloadResult>
  }

  async function phoneNumber<T> (detail?: PhoneNumberDetail): Promise<T> {
    const { phoneBody } = adapter
    if (!phoneBody) throw new TypeError(`phoneNumber: ${adapter.name} has no phone number route`)
    const data = await phoneBody(detail ?? {}).catch((error: unknown) => {
      throw new AuthClientError(0, 'MPA_CLIENT_PHONE_FAILED', `the phone number was not given: ${describe(error)}`, error)
    })
    return request<T>({ url: `${prefix}/${adapter.name}/phone`, method: 'POST', data })
  }

  async function logout (logoutOptions: LogoutOptions = {}): Promise<void> {
    logouts++
    // A login that finished after this would store a new skey and leave the
    // device logged in: let it finish, then revoke whatever is stored.
    await logins.settled()
    const skey = store.skey()
    if (skey === null) return
    try {
      const outcome = outcomeOf(await transport.request({ url: `${prefix}/${logoutOptions.everywhere ? 'sessions' : 'session'}`, method: 'DELETE' }, skey))
      // A 401 means the session is already gone: that is logged out too.
      if ('error' in outcome && outcome.error.statusCode !== 401) throw errorOf(outcome)
    } finally {
      store.forget()
    }
  }

  function scanCall<T> (ticket: string, step: 'scanned' | 'confirm' | 'refuse'): Promise<T> {
    if (!TICKET.test(ticket)) return Promise.reject(new TypeError(`${step}: not a scan-login ticket (got ${JSON.stringify(ticket)})`))
    return request<T>({ url: `${prefix}/scan/tickets/${ticket}/${step}`, method: 'POST', data: {} })
  }

  async function webviewUrl (path = '/'): Promise<string> {
    const { ticket } = await request<{ ticket: string }>({ url: `${prefix}/webview/tickets`, method: 'POST', data: {} })
    return `${baseUrl}${prefix}/webview?ticket=${encodeURIComponent(ticket)}&redirect=${encodeURIComponent(path)}`
  }

  return {
    login,
    request,
    uploadFile,
    downloadFile,
    phoneNumber,
    logout,
    scanTicket,
    scanned: (ticket) => scanCall<ScannedTicket>(ticket, 'scanned'),
    confirm: (ticket) => scanCall<{ state: ScanTicketState }>(ticket, 'confirm'),
    refuse: (ticket) => scanCall<{ state: ScanTicketState }>(ticket, 'refuse'),
    webviewUrl,
    skey: store.skey,
    sessionEnd: store.ended
  }
}

// A scan-login ticket id: 22 base64url characters (the code's scene).
const TICKET = /^[A-Za-z0-9_-]{22}$/

/** The ticket in a page's onLoad query (`scene`, URL-encoded by WeChat) or in launch options (`query.scene`), else null. */
function scanTicket (source: SceneSource | null | undefined): string | null {
  if (typeof source !== 'object' || source === null) return null
  const query = source.query
  const scene = typeof source.scene === 'string' ? source.scene : typeof query === 'object' && query !== null ? (query as { scene?: unknown }).scene : undefined
  if (typeof scene !== 'string') return null
  let decoded: string
  try {
    decoded = decodeURIComponent(scene)
  } catch {
    return null
  }
  return TICKET.test(decoded) ? decoded : null
}

/** The adapter the options name: an app's own, or a built-in platform bound to its object. */
function adapterOf<P extends Platform> (platform: P | PlatformAdapter, api: PlatformApis[P] | undefined): PlatformAdapter {
  if (typeof platform === 'object' && platform !== null) {
    if (typeof platform.name !== 'string' || !/^[\w-]+$/.test(platform.name) || typeof platform.login !== 'function' || typeof platform.request !== 'function' || typeof platform.storage !== 'object') {
      throw new TypeError('a platform adapter needs a name (letters, digits, - and _: its routes), login, request and storage')
    }
    return platform
  }
  if (!Object.prototype.hasOwnProperty.call(BUILT_IN, platform)) {
    throw new TypeError(`platform must be one of ${Object.keys(BUILT_IN).map((name) => `'${name}'`).join(', ')}, or an adapter (got ${JSON.stringify(platform)})`)
  }
  const builtIn: BuiltIn<PlatformApis[P]> = BUILT_IN[platform]
  const found = api ?? builtIn.find()
  if (!found) throw new TypeError(`no ${builtIn.global} object: run inside the mini-program or pass options.api`)
  return builtIn.bind(found)
}

/** Why the session ended, for a 401 or 403 with one of SESSION_END_CODES. */
function endReasonOf ({ statusCode, code }: ReplyError): SessionEndReason | undefined {
  return statusCode === 401 || statusCode === 403 ? lookup(SESSION_END_CODES, code) : undefined
}

function errorOf ({ error, body }: { error: ReplyError, body: unknown }): AuthClientError {
  return new AuthClientError(error.statusCode, error.code, error.message, body)
}
