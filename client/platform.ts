// The contract between the helper and a platform: an adapter gives the login
// call, request and storage, and where the platform has them uploads,
// downloads and the phone number route's body. The built-in adapters
// (adapters/) are written against it, and so is an app's own. Below it, the
// pieces the adapters share.

import type { AlipayScope, FileType, Method, PhoneNumberDetail } from './types.js'

/** The success and fail callbacks of a platform call; the helper always passes both. */
export interface Callbacks<T> {
  success: (result: T) => void
  fail: (error: unknown) => void
}

/** One HTTP exchange as the helper hands it to an adapter. */
export interface PlatformRequest {
  url: string
  method: Method
  header: Record<string, string>
  /** The JSON body as a value (its content-type header set), for any method but GET, whose data is in the url. */
  data?: unknown
}

/** A reply of any HTTP status; `data` as the platform gave it (the helper parses JSON text). */
export interface PlatformReply {
  statusCode: number
  data: unknown
}

export interface PlatformUpload {
  url: string
  filePath: string
  name: string
  formData: Record<string, string>
  header: Record<string, string>
  fileType: FileType
}

export interface PlatformDownload {
  url: string
  header: Record<string, string>
}

/** A downloaded file; for a status other than 2xx, `data` is the reply's body where the platform lets the file be read. */
export interface DownloadReply extends PlatformReply {
  tempFilePath: string
}

/** The platform's synchronous storage, by key. */
export interface KeyValueStorage {
  /** The value, or anything but a non-empty string when there is none. */
  get: (key: string) => unknown
  set: (key: string, value: string) => void
  remove: (key: string) => void
}

export interface LoginContext {
  /** Alipay: the scope to ask my.getAuthCode for. */
  scope: AlipayScope
  /** Douyin: tt.login's force. */
  force: boolean
}

/** A platform as the helper uses it. */
export interface PlatformAdapter {
  /** The server's routes for it: POST {prefix}/{name}/login (and /phone). */
  name: string
  /** The login call, such as 'ks.login', for messages. */
  loginCall: string
  /** Runs the login call; resolves with the login route's body, rejects with what the platform said. */
  login: (context: LoginContext) => Promise<Record<string, unknown>>
  /** Alipay: logins for different scopes differ (their replies do); a re-login asks the scope of the last login. */
  scoped?: boolean
  /** Resolves with any HTTP reply, rejects with what the platform said when none arrived. */
  request: (request: PlatformRequest) => Promise<PlatformReply>
  storage: KeyValueStorage
  uploadFile?: (upload: PlatformUpload) => Promise<PlatformReply>
  downloadFile?: (download: PlatformDownload) => Promise<DownloadReply>
  /** The phone number route's body, from the button's detail (or, on Alipay, my.getPhoneNumber); none where the server has no such route. */
  phoneBody?: (detail: PhoneNumberDetail) => Promise<Record<string, string>>
}

/** An own property of a lookup table, or undefined ('toString' is in no table). */
export function lookup<T> (table: Readonly<Record<string, T>>, key: unknown): T | undefined {
  return typeof key === 'string' && Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined
}

/** A callback-style platform call as a promise. */
export function call<T> (fn: (callbacks: Callbacks<T>) => unknown): Promise<T> {
  return new Promise((resolve, reject) => { fn({ success: resolve, fail: reject }) })
}

/**
 * A reply handed to `fail` is still a reply: my.request does that for a
 * status other than 2xx; the others' documentation does not say whether they
 * ever do, so every platform's `fail` is read this way.
 */
export function replyOrFailure (resolve: (reply: PlatformReply) => void, reject: (error: unknown) => void) {
  return (error: unknown): void => {
    const { status, statusCode, data } = (error ?? {}) as { status?: unknown, statusCode?: unknown, data?: unknown }
    const code = status ?? statusCode
    if (typeof code === 'number') resolve({ statusCode: code, data })
    else reject(error)
  }
}

/** An object whose `Call` method gives a login code and nothing else (wx.login, swan.getLoginCode, wx.qy.login). */
export type CodeLoginApi<Call extends string> = Record<Call, (options: Callbacks<{ code: string }>) => unknown>

/** The login route's body of the platforms whose login call gives only `code`. */
export function codeLogin (login: (callbacks: Callbacks<{ code: string }>) => unknown): PlatformAdapter['login'] {
  return async () => ({ code: (await call(login)).code })
}

/**
 * A phone number button's detail as the route's body: the first of `shapes`
 * whose fields it has, those fields only (the routes take nothing else), or a
 * rejection with what the button said.
 */
export function fromButton (...shapes: Array<ReadonlyArray<'code' | 'encryptedData' | 'iv'>>): NonNullable<PlatformAdapter['phoneBody']> {
  return async (detail) => {
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

/** A built-in platform: the free variable its object is, that object where the code runs, and the adapter over it. */
export interface BuiltIn<Api> {
  global: string
  find: () => Api | undefined
  bind: (api: Api) => PlatformAdapter
}
