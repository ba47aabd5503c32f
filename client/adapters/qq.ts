import { codeLogin, type BuiltIn } from '../platform.js'
import type { WxApi } from './wechat.js'
import { wxStyle } from './wx-style.js'

/** The part of `qq` the helper uses: the same shapes as `wx`. */
export type QqApi = WxApi

declare const qq: QqApi | undefined

/** QQ: no phone number route on the server. */
export const qqPlatform: BuiltIn<QqApi> = {
  global: 'qq',
  find: () => typeof qq !== 'undefined' ? qq : undefined,
  bind: (api) => ({ name: 'qq', loginCall: 'qq.login', login: codeLogin((callbacks) => api.login(callbacks)), ...wxStyle(api) })
}
