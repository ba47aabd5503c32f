import type { AlipayAppOptions, WechatAppOptions } from '../../index.js'
import { createAlipaySandbox, createWechatSandbox, generateRsaKeyPair, type AlipaySandbox, type WechatSandbox } from '../../sandbox/index.js'
import type { FastifyInstance } from 'fastify'
import type { TestAppOptions } from './app.js'
import type { Teardown } from './redis.js'
import { privateKeyTexts } from './secrets.js'
import { World } from './world.js'

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

/**
 * A World with both platforms: apps log in through both sandboxes by
 * default, and the leak check covers what both issued and the Alipay app
 * private key.
 */
export class PlatformsWorld extends World {
  private constructor (t: Teardown, readonly platforms: Platforms, name: string) {
    super(t, name)
    const keyTexts = privateKeyTexts(platforms.options.alipay.privateKey)
    this.watch(() => [...platforms.wechat.secrets(), ...platforms.alipay.secrets(), ...keyTexts])
  }

  static async create (t: Teardown, name: string, wechatApp: { appId: string, appSecret: string }, alipayAppId: string): Promise<PlatformsWorld> {
    const platforms = await startPlatforms(wechatApp, alipayAppId)
    t.teardown(() => platforms.close()) // first registered, last run: after the apps close
    return new PlatformsWorld(t, platforms, name)
  }

  get wechat (): WechatSandbox {
    return this.platforms.wechat
  }

  get alipay (): AlipaySandbox {
    return this.platforms.alipay
  }

  /** An app with both platforms' options; `options` override. */
  override build (options: TestAppOptions = {}, addRoutes?: (app: FastifyInstance) => void): Promise<FastifyInstance> {
    return super.build({ ...this.platforms.options, ...options }, addRoutes)
  }
}
