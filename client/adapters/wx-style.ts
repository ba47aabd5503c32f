// Request, storage, uploads and downloads of the platforms shaped like wx:
// `header` in, `statusCode` out, `success` for any HTTP status, storage by key.
// WeChat, QQ, Douyin, Kuaishou, Baidu, uni-app and Taro all are; an app's own
// adapter for another such platform takes them from wxStyle.

import { call, replyOrFailure, type Callbacks, type DownloadReply, type PlatformAdapter, type PlatformUpload } from '../platform.js'
import type { Method } from '../types.js'

export interface WxStyleRequestOptions<Body> extends Callbacks<{ statusCode: number, data: unknown }> {
  url: string
  method: Method
  header: Record<string, string>
  data?: Body
  dataType: string
}

/** `fileType` is read by uni-app and Taro builds for Alipay, whose my.uploadFile requires it; ignored elsewhere. */
export interface WxStyleUploadOptions extends PlatformUpload, Callbacks<{ statusCode: number, data: unknown }> {}

export interface WxStyleDownloadOptions extends Callbacks<{ statusCode?: number, tempFilePath: string }> {
  url: string
  header: Record<string, string>
}

/**
 * The part of a wx-shaped object the helper uses; `Body` is what its request
 * call takes as a JSON body (a string where it may, Douyin wants an object).
 */
export interface WxStyleApi<Body = string> {
  request: (options: WxStyleRequestOptions<Body>) => unknown
  getStorageSync: (key: string) => unknown
  setStorageSync: (key: string, data: string) => void
  removeStorageSync: (key: string) => void
  uploadFile?: (options: WxStyleUploadOptions) => unknown
  downloadFile?: (options: WxStyleDownloadOptions) => unknown
  /** To read the body of a refused download (the server's error code), which lands in the file. */
  getFileSystemManager?: () => { readFileSync: (filePath: string, encoding: 'utf8') => unknown }
}

export interface WxStyleOptions<Body> {
  /**
   * The request's dataType: anything but 'json', so the platform does not
   * parse the reply (an empty 204 would fail to) and the helper does. Default
   * 'text' (wx and qq document "anything else"; tt and swan list 'string').
   */
  dataType?: string
  /** The JSON body as the platform's request takes it. Default a JSON string, which no platform form-encodes. */
  body?: (json: unknown) => Body
}

/** The JSON body as a string. */
export const jsonText = (json: unknown): string => JSON.stringify(json)

export type WxStyle = Pick<PlatformAdapter, 'request' | 'storage' | 'uploadFile' | 'downloadFile'>

export function wxStyle (api: WxStyleApi, options?: Omit<WxStyleOptions<string>, 'body'>): WxStyle
export function wxStyle<Body> (api: WxStyleApi<Body>, options: WxStyleOptions<Body> & { body: (json: unknown) => Body }): WxStyle
export function wxStyle (api: WxStyleApi<any>, { dataType = 'text', body = jsonText }: WxStyleOptions<unknown> = {}): WxStyle {
  // Bound: a platform's calls may read `this`.
  const uploadFile = api.uploadFile?.bind(api)
  const downloadFile = api.downloadFile?.bind(api)
  const fileSystem = api.getFileSystemManager?.bind(api)
  return {
    request: ({ url, method, header, data }) => new Promise((resolve, reject) => {
      api.request({ url, method, header, data: data === undefined ? undefined : body(data), dataType, success: resolve, fail: replyOrFailure(resolve, reject) })
    }),
    storage: {
      get: (key) => {
        // tt.getStorageSync throws for a key it does not have ("data not found").
        try {
          return api.getStorageSync(key)
        } catch {
          return null
        }
      },
      set: (key, value) => api.setStorageSync(key, value),
      remove: (key) => api.removeStorageSync(key)
    },
    uploadFile: uploadFile && ((upload) => new Promise((resolve, reject) => {
      uploadFile({ ...upload, success: resolve, fail: replyOrFailure(resolve, reject) })
    })),
    downloadFile: downloadFile && (async (download): Promise<DownloadReply> => {
      // Taro's Alipay build reports no status (my.downloadFile has none): taken as 200.
      const { statusCode = 200, tempFilePath } = await call<{ statusCode?: number, tempFilePath: string }>((callbacks) => downloadFile({ ...download, ...callbacks }))
      return { statusCode, tempFilePath, data: statusCode >= 200 && statusCode < 300 ? undefined : readText(fileSystem, tempFilePath) }
    })
  }
}

/** A file's text, or undefined where the platform cannot read it. */
function readText (fileSystem: WxStyleApi['getFileSystemManager'], filePath: string): unknown {
  try {
    return fileSystem?.().readFileSync(filePath, 'utf8')
  } catch {
    return undefined
  }
}
