import { codeLogin, type BuiltIn, type CodeLoginApi } from '../platform.js'
import type { WxApi } from './wechat.js'
import { wxStyle } from './wx-style.js'

/** WeCom (企业微信) runs WeChat's mini-programs: `wx`, whose `wx.qy.login` gives a code for WeCom's code2Session. */
export interface WecomApi extends WxApi {
  qy: CodeLoginApi<'login'>
}

declare const wx: WecomApi | undefined

export const wecomPlatform: BuiltIn<WecomApi> = {
  global: 'wx.qy',
  // wx.qy exists only inside WeCom: in WeChat, wx alone is no WeCom object.
  find: () => typeof wx !== 'undefined' && wx.qy !== undefined ? wx : undefined,
  bind: (api) => ({ name: 'wecom', loginCall: 'wx.qy.login', login: codeLogin((callbacks) => api.qy.login(callbacks)), ...wxStyle(api) })
}
