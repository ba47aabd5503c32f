import { codeLogin, fromButton, type BuiltIn, type CodeLoginApi } from '../platform.js'
import { wxStyle, type WxStyleApi } from './wx-style.js'

/** The part of `swan` the helper uses: swan.getLoginCode (which replaced swan.login) gives a code. */
export interface SwanApi extends WxStyleApi, CodeLoginApi<'getLoginCode'> {}

declare const swan: SwanApi | undefined

export const baiduPlatform: BuiltIn<SwanApi> = {
  global: 'swan',
  find: () => typeof swan !== 'undefined' ? swan : undefined,
  // swan.request documents 'json' and 'string' as its dataType.
  bind: (api) => ({ name: 'baidu', loginCall: 'swan.getLoginCode', login: codeLogin((callbacks) => api.getLoginCode(callbacks)), phoneBody: fromButton(['encryptedData', 'iv']), ...wxStyle(api, { dataType: 'string' }) })
}
