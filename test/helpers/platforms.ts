import type { AlipayAppOptions, WechatAppOptions } from '../../index.js'
import { createAlipaySandbox, createWechatSandbox, generateRsaKeyPair, type AlipaySandbox, type WechatSandbox } from '../../sandbox/index.js'

export interface Platforms {
  wechat: WechatSandbox
  alipay: AlipaySandbox
  /** The umbrella's `wechat` and `alipay` options, pointed at the sandboxes. */
  options: { wechat: WechatAppOptions, alipay: AlipayAppOptions }
  close: () => Promise<void>
}

/** Both sandboxes, each knowing one app, and the options that log in through them. */
export async function startPlatforms (wechatApp: { appId: string, appSecret: string }, alipayAppId: string): Promise<Platforms> {
  const appKeys = generateRsaKeyPair()
  const wechat = await createWechatSandbox({ apps: { [wechatApp.appId]: wechatApp.appSecret } })
  const alipay = await createAlipaySandbox({ apps: [{ appId: alipayAppId, publicKey: appKeys.publicKey }] })
  return {
    wechat,
    alipay,
    options: {
      wechat: { ...wechatApp, baseUrl: wechat.url },
      alipay: { appId: alipayAppId, privateKey: appKeys.privateKey, alipayPublicKey: alipay.publicKey, gateway: alipay.url }
    },
    close: async () => { await Promise.all([wechat.close(), alipay.close()]) }
  }
}
