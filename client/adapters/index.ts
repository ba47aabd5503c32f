// The built-in platforms, by the name of their server routes.

import type { BuiltIn } from '../platform.js'
import { alipayPlatform, type MyApi } from './alipay.js'
import { baiduPlatform, type SwanApi } from './baidu.js'
import { douyinPlatform, type TtApi } from './douyin.js'
import { kuaishouPlatform, type KsApi } from './kuaishou.js'
import { qqPlatform, type QqApi } from './qq.js'
import { wechatPlatform, type WxApi } from './wechat.js'
import { wecomPlatform, type WecomApi } from './wecom.js'

/** Each built-in platform's object. */
export interface PlatformApis {
  wechat: WxApi
  alipay: MyApi
  douyin: TtApi
  qq: QqApi
  kuaishou: KsApi
  baidu: SwanApi
  wecom: WecomApi
}

export type Platform = keyof PlatformApis

export const BUILT_IN: { [P in Platform]: BuiltIn<PlatformApis[P]> } = {
  wechat: wechatPlatform,
  alipay: alipayPlatform,
  douyin: douyinPlatform,
  qq: qqPlatform,
  kuaishou: kuaishouPlatform,
  baidu: baiduPlatform,
  wecom: wecomPlatform
}
