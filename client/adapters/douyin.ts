import { call, fromButton, type BuiltIn, type Callbacks } from '../platform.js'
import { wxStyle, type WxStyleApi } from './wx-style.js'

/**
 * The part of `tt` (Douyin) the helper uses. tt.request documents its data as
 * an object, an array or an ArrayBuffer, and 'json' and 'string' as its
 * dataType. tt.login gives `code` only to a user logged in to the host app
 * (Douyin, Toutiao), `anonymousCode` always; with `force` (its default) it
 * first shows the host's login dialog.
 */
export interface TtApi extends WxStyleApi<object> {
  login: (options: Callbacks<{ code?: string, anonymousCode?: string }> & { force: boolean }) => unknown
}

declare const tt: TtApi | undefined

/** The JSON body as Douyin takes it: an object or an array, as it is. */
export function jsonObject (json: unknown): object {
  if (typeof json !== 'object' || json === null) throw new TypeError(`tt.request takes an object or an array as data (got ${JSON.stringify(json)})`)
  return json
}

/** What tt.login gave, as the login route takes it: `code` for a user logged in to the host app, `anonymousCode` always. */
export function douyinLoginBody ({ code, anonymousCode }: { code?: string, anonymousCode?: string }): Record<string, string> {
  return { ...(code ? { code } : {}), ...(anonymousCode ? { anonymousCode } : {}) }
}

/** Douyin's phone number button gives the encrypted number. */
// The button's code (base library 3.51.0+) when it gave one, else its encrypted data.
export const douyinPhoneBody = fromButton(['code'], ['encryptedData', 'iv'])

export const douyinPlatform: BuiltIn<TtApi> = {
  global: 'tt',
  find: () => typeof tt !== 'undefined' ? tt : undefined,
  bind: (api) => ({
    name: 'douyin',
    loginCall: 'tt.login',
    login: async ({ force }) => douyinLoginBody(await call((callbacks) => api.login({ force, ...callbacks }))),
    ...wxStyle(api, { dataType: 'string', body: jsonObject }),
    phoneBody: douyinPhoneBody
  })
}
