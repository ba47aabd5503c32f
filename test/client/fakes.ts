import type { AlipayScope, MyApi, TaroApi, TtApi, UniApi, WxApi, WxStyleApi } from '../../client/index.js'

// Stand-ins for the platform objects (wx, my, tt, qq, ks, swan) and the
// frameworks' (uni, Taro), each with its documented shapes: they do real HTTP
// against the server under test, keep storage and files in memory, and their
// login calls are played by the caller (the sandboxes' codes). A device
// records every exchange it made.

export interface Sent {
  method: string
  url: string
  headers: Record<string, string>
  /** The body as it went over the wire. */
  body: string | undefined
  /** What the platform call was given as `data`: a string, or an object the platform serialized. */
  given: unknown
}

/** One phone: its storage, its files (local paths to bytes) and every exchange it made. */
export class Device {
  readonly storage = new Map<string, string>()
  readonly files = new Map<string, Uint8Array>()
  readonly sent: Sent[] = []
  private tempFiles = 0

  /** A local file, as chooseAvatar or chooseMedia hands one out. */
  addFile (bytes: Uint8Array, name = 'avatar.png'): string {
    const path = `wxfile://tmp/${++this.tempFiles}-${name}`
    this.files.set(path, bytes)
    return path
  }

  /** One real HTTP exchange, recorded; objects are sent as JSON, as the platforms do for content-type application/json. */
  async http (url: string, method: string, data: unknown, headers: Record<string, string>): Promise<{ status: number, text: string, headers: Record<string, string> }> {
    const body = data === undefined ? undefined : typeof data === 'string' ? data : JSON.stringify(data)
    this.sent.push({ method, url, headers, body, given: data })
    const response = await fetch(url, { method, headers, body })
    return { status: response.status, text: await response.text(), headers: Object.fromEntries(response.headers) }
  }

  /** A multipart upload of a local file, as wx.uploadFile sends it. */
  async upload (url: string, filePath: string, name: string, formData: Record<string, string>, headers: Record<string, string>): Promise<{ status: number, text: string }> {
    const bytes = this.files.get(filePath)
    if (!bytes) throw new Error(`no such file ${filePath}`)
    const form = new FormData()
    for (const [key, value] of Object.entries(formData)) form.append(key, value)
    form.append(name, new Blob([bytes]), filePath.slice(filePath.lastIndexOf('/') + 1))
    this.sent.push({ method: 'POST', url, headers, body: undefined, given: { filePath, name, formData } })
    const response = await fetch(url, { method: 'POST', headers, body: form })
    return { status: response.status, text: await response.text() }
  }

  /** A download into a new temp file, whatever the status (as wx.downloadFile does). */
  async download (url: string, headers: Record<string, string>): Promise<{ status: number, tempFilePath: string }> {
    this.sent.push({ method: 'GET', url, headers, body: undefined, given: undefined })
    const response = await fetch(url, { headers })
    return { status: response.status, tempFilePath: this.addFile(new Uint8Array(await response.arrayBuffer()), 'download') }
  }

  readText (filePath: string): string {
    const bytes = this.files.get(filePath)
    if (!bytes) throw new Error(`readFileSync:fail no such file ${filePath}`)
    return new TextDecoder().decode(bytes)
  }
}

/** Calls back on a later turn, as the platforms do. */
function later (fn: () => void): void {
  setImmediate(fn)
}

export interface WxShapedOptions {
  /** What reading a key never written does: '' for wx, a throw for tt. */
  missing?: (key: string) => unknown
  /** What the platform's request accepts as data; a call with anything else fails, as an undocumented use would. */
  accepts?: (data: unknown) => boolean
}

/**
 * Request, storage, uploads, downloads and files as wx, qq, tt, ks, swan,
 * uni and Taro have them: `header`/`statusCode`, success for any HTTP status.
 */
export function wxShaped (device: Device, { missing = () => '', accepts = () => true }: WxShapedOptions = {}): Required<WxStyleApi<string | object>> {
  return {
    request ({ url, method, data, header, dataType, success, fail }) {
      if (data !== undefined && !accepts(data)) {
        later(() => fail({ errMsg: `request:fail data of type ${typeof data} is not documented` }))
        return
      }
      device.http(url, method, data, header).then(({ status, text, headers }) => {
        success({ statusCode: status, header: headers, data: dataType === 'json' ? JSON.parse(text) : text } as { statusCode: number, data: unknown })
      }, (err: Error) => fail({ errMsg: `request:fail ${err.message}` }))
    },
    getStorageSync: (key) => device.storage.has(key) ? device.storage.get(key) : missing(key),
    setStorageSync: (key, data) => { device.storage.set(key, data) },
    removeStorageSync: (key) => { device.storage.delete(key) },
    uploadFile ({ url, filePath, name, formData, header, success, fail }) {
      device.upload(url, filePath, name, formData, header).then(({ status, text }) => success({ statusCode: status, data: text }), (err: Error) => fail({ errMsg: `uploadFile:fail ${err.message}` }))
    },
    downloadFile ({ url, header, success, fail }) {
      device.download(url, header).then(({ status, tempFilePath }) => success({ statusCode: status, tempFilePath }), (err: Error) => fail({ errMsg: `downloadFile:fail ${err.message}` }))
    },
    getFileSystemManager: () => ({ readFileSync: (filePath) => device.readText(filePath) })
  }
}

export interface LoginState {
  logins: number
  loginFails: boolean
  /** The login call answers only once it settles, to act while a login is in flight. */
  hold: Promise<void> | null
  /** Told of each login call as it is made, with the count so far. */
  onLogin?: (logins: number) => void
}

const loginState = (): LoginState => ({ logins: 0, loginFails: false, hold: null })

/** Plays a login call: a result from the sandbox, or `errMsg` while `loginFails`. */
function playLogin<T> (state: LoginState, result: () => T, { success, fail }: { success: (result: T) => void, fail: (error: unknown) => void }): void {
  state.logins++
  state.onLogin?.(state.logins)
  const answer = () => later(() => state.loginFails ? fail({ errMsg: 'login:fail network' }) : success(result()))
  if (state.hold) state.hold.then(answer, answer)
  else answer()
}

/** A `wx` (or `qq`, `ks`: the same shapes) whose login hands out `code()`; a key never written reads as ''. */
export function fakeWx (code: () => string, device = new Device()) {
  const state = loginState()
  const api: WxApi = { ...wxShaped(device), login: (callbacks) => playLogin(state, () => ({ code: code() }), callbacks) }
  return { api, device, state }
}

/** tt.request documents an object, an array or an ArrayBuffer as its data. */
const douyinAccepts = (data: unknown): boolean => typeof data === 'object' && data !== null

/** A `tt`: its login gives what `codes()` does; a key never written throws, as on Douyin; request data must be an object. */
export function fakeTt (codes: () => { code?: string, anonymousCode?: string }, device = new Device()) {
  const state = { ...loginState(), forces: [] as boolean[] }
  const api: TtApi = {
    ...wxShaped(device, { missing: (key) => { throw new Error(`getStorageSync:fail data not found, key == ${key}`) }, accepts: douyinAccepts }),
    login: ({ force, ...callbacks }) => {
      state.forces.push(force)
      playLogin(state, codes, callbacks)
    }
  }
  return { api, device, state }
}

/** @public (named in the declarations of the fakes that return it) */
export interface MyState {
  logins: number
  scopes: string[]
  phoneDeclined: boolean
}

/**
 * A `my`: `headers`/`status`, fail on a status other than 2xx (error 19),
 * storage by object, my.uploadFile requiring fileType, my.downloadFile with
 * no status; my.getPhoneNumber gives `phone()`, or fails while `state.phoneDeclined`.
 */
export function fakeMy (authCode: (scope: AlipayScope) => string, phone: () => string = () => '', device = new Device()) {
  const state: MyState = { logins: 0, scopes: [], phoneDeclined: false }
  const api: Required<MyApi> = {
    getAuthCode ({ scopes, success }) {
      state.logins++
      state.scopes.push(scopes)
      later(() => success({ authCode: authCode(scopes) }))
    },
    request ({ url, method, data, headers, dataType, success, fail }) {
      device.http(url, method, data, headers).then(({ status, text, headers: replyHeaders }) => {
        const reply = { status, headers: replyHeaders, data: dataType === 'text' ? text : JSON.parse(text) }
        if (status >= 200 && status < 300) success(reply)
        else fail({ error: 19, errorMessage: 'http status error', ...reply })
      }, (err: Error) => fail({ error: 12, errorMessage: err.message }))
    },
    getStorageSync: ({ key }) => ({ data: device.storage.get(key) }),
    setStorageSync: ({ key, data }) => { device.storage.set(key, data) },
    removeStorageSync: ({ key }) => { device.storage.delete(key) },
    uploadFile ({ url, filePath, name, fileType, header, formData, success, fail }) {
      if (!['image', 'video', 'audio'].includes(fileType)) {
        later(() => fail({ error: 2, errorMessage: 'fileType is required' }))
        return
      }
      device.upload(url, filePath, name, formData, header).then(({ status, text }) => success({ statusCode: status, data: text }), (err: Error) => fail({ error: 12, errorMessage: err.message }))
    },
    downloadFile ({ url, header, success, fail }) {
      // my.downloadFile's success names the file and nothing else (no status).
      device.download(url, header).then(({ tempFilePath }) => success({ apFilePath: tempFilePath }), (err: Error) => fail({ error: 12, errorMessage: err.message }))
    },
    getPhoneNumber ({ success, fail }) {
      later(() => state.phoneDeclined ? fail({ error: 11, errorMessage: 'the user declined' }) : success({ response: phone() }))
    }
  }
  return { api, device, state }
}

/** uni's build targets, by `uniPlatform`: what its login does there. */
export interface UniTarget {
  uniPlatform: string
  login: (options: { scopes?: string }) => { code: string, anonymousCode?: string }
}

/**
 * A `uni` for one build target, shaped as uni-app documents it: wx's shapes
 * everywhere (request success for any status, storage by key), uni.login with
 * `scopes` (Alipay) giving `code`; getSystemInfoSync().uniPlatform names the target.
 */
export function fakeUni ({ uniPlatform, login }: UniTarget, device = new Device()) {
  const state = { ...loginState(), options: [] as Array<Record<string, unknown>> }
  const { getFileSystemManager, ...api } = wxShaped(device, uniPlatform === 'mp-toutiao' ? { accepts: douyinAccepts } : {})
  const uni: UniApi = {
    ...api,
    // uni-app's typings declare no getFileSystemManager; its mini-program builds have one.
    getFileSystemManager,
    getSystemInfoSync: () => ({ uniPlatform }),
    login: ({ success, fail, ...options }) => {
      state.options.push(options)
      playLogin(state, () => login(options), { success, fail })
    }
  }
  return { api: uni, device, state }
}

/**
 * `Taro` for one build target, shaped as Taro documents it: wx's shapes,
 * Taro.getEnv() naming the target; on Alipay, Taro.login is my.getAuthCode
 * with scopes 'auth_base' whatever it is given (Taro's Alipay runtime).
 */
export function fakeTaro (env: string, login: (options: { force?: boolean, scopes?: string }) => { code: string, anonymousCode?: string }, device = new Device()) {
  const state = { ...loginState(), options: [] as Array<Record<string, unknown>> }
  const taro: TaroApi = {
    ...wxShaped(device, env === 'TT' ? { accepts: douyinAccepts } : {}),
    getEnv: () => env,
    login: ({ success, fail, ...options }) => {
      const given = env === 'ALIPAY' ? { ...options, scopes: 'auth_base' } : options
      state.options.push(given)
      playLogin(state, () => login(given), { success, fail })
    }
  }
  return { api: taro, device, state }
}
