import { call, replyOrFailure, type BuiltIn, type Callbacks, type PlatformAdapter } from '../platform.js'
import type { AlipayScope, FileType, Method } from '../types.js'

/** The part of `my` the helper uses: `headers`/`status`, and storage calls that take objects. */
export interface MyApi {
  getAuthCode: (options: Callbacks<{ authCode: string }> & { scopes: AlipayScope }) => unknown
  request: (options: Callbacks<{ status: number, data: unknown }> & { url: string, method: Method, data?: string, headers: Record<string, string>, dataType: 'text' }) => unknown
  getStorageSync: (options: { key: string }) => { data?: unknown } | null | undefined
  setStorageSync: (options: { key: string, data: string }) => unknown
  removeStorageSync: (options: { key: string }) => unknown
  uploadFile?: (options: Callbacks<{ statusCode: number, data: unknown }> & { url: string, filePath: string, name: string, fileType: FileType, header: Record<string, string>, formData: Record<string, string> }) => unknown
  /** Its success reports no HTTP status: a download is taken to be a 200. */
  downloadFile?: (options: Callbacks<{ tempFilePath?: string, apFilePath?: string }> & { url: string, header: Record<string, string> }) => unknown
  /** Only for `phoneNumber()`: call it from the onGetAuthorize of `<button open-type="getAuthorize" scope="phoneNumber">`. */
  getPhoneNumber?: (options: Callbacks<{ response: string }>) => unknown
}

declare const my: MyApi | undefined

export const alipayPlatform: BuiltIn<MyApi> = {
  global: 'my',
  find: () => typeof my !== 'undefined' ? my : undefined,
  bind: (api) => alipayAdapter(api)
}

function alipayAdapter (api: MyApi): PlatformAdapter {
  // Bound: a platform's calls may read `this`.
  const uploadFile = api.uploadFile?.bind(api)
  const downloadFile = api.downloadFile?.bind(api)
  const getPhoneNumber = api.getPhoneNumber?.bind(api)
  return {
    name: 'alipay',
    loginCall: 'my.getAuthCode',
    // With the scope, which decides what the server fetches.
    login: async ({ scope }) => ({ authCode: (await call<{ authCode: string }>((callbacks) => api.getAuthCode({ scopes: scope, ...callbacks }))).authCode, scope }),
    scoped: true,
    request: ({ url, method, header, data }) => new Promise((resolve, reject) => {
      const success = ({ status, data }: { status: number, data: unknown }): void => resolve({ statusCode: status, data })
      api.request({ url, method, data: data === undefined ? undefined : JSON.stringify(data), headers: header, dataType: 'text', success, fail: replyOrFailure(resolve, reject) })
    }),
    storage: {
      get: (key) => api.getStorageSync({ key })?.data,
      set: (key, value) => { api.setStorageSync({ key, data: value }) },
      remove: (key) => { api.removeStorageSync({ key }) }
    },
    uploadFile: uploadFile && ((upload) => new Promise((resolve, reject) => {
      uploadFile({ ...upload, success: resolve, fail: replyOrFailure(resolve, reject) })
    })),
    downloadFile: downloadFile && (async (download) => {
      const { tempFilePath, apFilePath } = await call<{ tempFilePath?: string, apFilePath?: string }>((callbacks) => downloadFile({ ...download, ...callbacks }))
      // Older base libraries name the file apFilePath.
      return { statusCode: 200, data: undefined, tempFilePath: tempFilePath ?? apFilePath ?? '' }
    }),
    // `response` is the signed and encrypted JSON string, as my.getPhoneNumber gave it.
    phoneBody: async () => {
      if (!getPhoneNumber) throw new TypeError('this my object has no getPhoneNumber')
      return { response: (await call<{ response: string }>(getPhoneNumber)).response }
    }
  }
}
