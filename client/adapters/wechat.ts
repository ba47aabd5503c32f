import { codeLogin, fromButton, type BuiltIn, type CodeLoginApi } from '../platform.js'
import { wxStyle, type WxStyleApi } from './wx-style.js'

/** The part of `wx` the helper uses. */
export interface WxApi extends WxStyleApi, CodeLoginApi<'login'> {}

// A mini-program hands its object to each module as a free variable, not
// always as a property of globalThis (which older base libraries lack).
declare const wx: WxApi | undefined

export const wechatPlatform: BuiltIn<WxApi> = {
  global: 'wx',
  find: () => typeof wx !== 'undefined' ? wx : undefined,
  // The phone number button: current base libraries give a code, old ones the encrypted number.
  bind: (api) => ({ name: 'wechat', loginCall: 'wx.login', login: codeLogin((callbacks) => api.login(callbacks)), phoneBody: fromButton(['code'], ['encryptedData', 'iv']), ...wxStyle(api) })
}
