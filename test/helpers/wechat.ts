import type { FastifyInstance } from 'fastify'
import type { WechatAppOptions } from '../../index.js'
import { createWechatSandbox, type WechatSandbox, type WechatSandboxOptions, type WechatSandboxUser } from '../../sandbox/wechat.js'
import type { TestAppOptions } from './app.js'
import type { Teardown } from './redis.js'
import { World, type Reply } from './world.js'

export const APP_ID = 'wx00000000000000a1'
export const OTHER_APP_ID = 'wx00000000000000b2'
// WeChat's published sample (the WXBizDataCrypt demos): this key and iv turn
// this plaintext into this ciphertext.
export const VECTOR = {
  appId: 'wx4f4bc4dec97d474b',
  sessionKey: 'tiihtNczf5v6AKRyjwEUhQ==',
  iv: 'r7BXXKkLb8qrSNn05n0qiA==',
  encryptedData: 'CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==',
  plaintext: '{"openId":"oGZUI0egBJY1zhBYw2KhdUfwVJJE","nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8MHM4WgMEm7GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0","unionId":"ocMvos6NjeKLIBqg5Mr9QjxrP1FA","watermark":{"timestamp":1477314187,"appid":"wx4f4bc4dec97d474b"}}'
}

const SECRETS: Record<string, string> = { [APP_ID]: `secret-${APP_ID}-0123456789abcdef`, [OTHER_APP_ID]: `secret-${OTHER_APP_ID}-fedcba9876543210` }

/**
 * One test file's WeChat world: a WeChat sandbox and a World (Redis, apps
 * wired as the umbrella wires them, one log capture, every reply recorded),
 * so the file can finally check that no secret reached a reply or a log line.
 */
export class WechatWorld extends World {
  private constructor (t: Teardown, readonly sandbox: WechatSandbox, name: string) {
    super(t, name)
    this.watch(() => sandbox.secrets())
  }

  static async create (t: Teardown, name: string, options: Omit<WechatSandboxOptions, 'apps'> = {}): Promise<WechatWorld> {
    const sandbox = await createWechatSandbox({ ...options, apps: SECRETS })
    t.teardown(() => sandbox.close()) // first registered, last run: after the apps close
    return new WechatWorld(t, sandbox, name)
  }

  /** The app config WeChat knows, pointed at the sandbox. */
  app (appId = APP_ID, extra: Partial<WechatAppOptions> = {}): WechatAppOptions {
    return { appId, appSecret: SECRETS[appId] ?? 'not-a-secret-wechat-knows', baseUrl: this.sandbox.url, timeout: '2s', ...extra }
  }

  /** An instance of the application (by default on `app()`); instances of one world share Redis and its prefix. */
  override build (options: TestAppOptions = {}, addRoutes?: (app: FastifyInstance) => void): Promise<FastifyInstance> {
    return super.build({ wechat: this.app(), ...options }, addRoutes)
  }

  /** wx.login in the sandbox, then POST /auth/wechat/login. */
  async login (app: FastifyInstance, openId: string, extra: Omit<WechatSandboxUser, 'openId'> & { appId?: string } = {}): Promise<Reply & { skey: string }> {
    const { appId, ...user } = extra
    const code = this.sandbox.issueCode({ openId, ...user }, appId)
    const reply = await this.post(app, '/auth/wechat/login', { code, ...(appId ? { appId } : {}) })
    return { ...reply, skey: reply.json.skey }
  }
}
