import { codeLogin, fromButton, type BuiltIn } from '../platform.js'
import type { WxApi } from './wechat.js'
import { wxStyle } from './wx-style.js'

/** The part of `ks` the helper uses: ks.login gives a code; request and storage are taken to be shaped as wx's (docs/client.md). */
export type KsApi = WxApi

declare const ks: KsApi | undefined

export const kuaishouPlatform: BuiltIn<KsApi> = {
  global: 'ks',
  find: () => typeof ks !== 'undefined' ? ks : undefined,
  bind: (api) => ({ name: 'kuaishou', loginCall: 'ks.login', login: codeLogin((callbacks) => api.login(callbacks)), phoneBody: fromButton(['encryptedData', 'iv']), ...wxStyle(api) })
}
