import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { Test } from 'tap'
import type { MiniprogramAuthOptions, WechatAppOptions } from '../../index.js'
import { createWechatSandbox, type WechatSandbox, type WechatSandboxOptions, type WechatSandboxUser } from '../../sandbox/wechat.js'
import { buildApp, LogCapture } from './app.js'
import { sharedRedis, uniquePrefix } from './redis.js'

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

export interface Reply {
  statusCode: number
  body: string
  json: Record<string, any>
}

/**
 * One test file's world: a WeChat sandbox, Redis, and apps wired as the
 * umbrella will wire them, logging at trace level into one capture. Every
 * reply goes through `call`, so the file can finally check that no secret
 * reached a reply or a log line.
 */
export class WechatWorld {
  readonly logs = new LogCapture()
  readonly replies: string[] = []
  readonly redis: Redis = sharedRedis()
  readonly apps: FastifyInstance[] = []
  readonly prefix: string

  private constructor (readonly sandbox: WechatSandbox, name: string) {
    this.prefix = uniquePrefix(name)
  }

  static async create (t: Test, name: string, options: Omit<WechatSandboxOptions, 'apps'> = {}): Promise<WechatWorld> {
    const sandbox = await createWechatSandbox({ ...options, apps: SECRETS })
    const world = new WechatWorld(sandbox, name)
    t.teardown(() => world.close())
    return world
  }

  /** The app config WeChat knows, pointed at the sandbox. */
  app (appId = APP_ID, extra: Partial<WechatAppOptions> = {}): WechatAppOptions {
    return { appId, appSecret: SECRETS[appId] ?? 'not-a-secret-wechat-knows', baseUrl: this.sandbox.url, timeout: '2s', ...extra }
  }

  /** An instance of the application; instances of one world share Redis and its prefix. */
  async build (wechat: WechatAppOptions | WechatAppOptions[] = this.app(), options: MiniprogramAuthOptions = {}): Promise<FastifyInstance> {
    const app = await buildApp(this.redis, { keyPrefix: this.prefix, logs: this.logs, wechat, ...options })
    this.apps.push(app)
    return app
  }

  async call (app: FastifyInstance, method: 'GET' | 'POST', url: string, body?: object, skey?: string): Promise<Reply> {
    const response = await app.inject({ method, url, ...(body ? { payload: body } : {}), headers: skey ? { 'x-skey': skey } : {} })
    this.replies.push(response.body)
    return { statusCode: response.statusCode, body: response.body, json: response.body ? response.json() : {} }
  }

  post (app: FastifyInstance, url: string, body: object, skey?: string): Promise<Reply> {
    return this.call(app, 'POST', url, body, skey)
  }

  /** wx.login in the sandbox, then POST /auth/wechat/login. */
  async login (app: FastifyInstance, openId: string, extra: Omit<WechatSandboxUser, 'openId'> & { appId?: string } = {}): Promise<Reply & { skey: string }> {
    const { appId, ...user } = extra
    const code = this.sandbox.issueCode({ openId, ...user }, appId)
    const reply = await this.post(app, '/auth/wechat/login', { code, ...(appId ? { appId } : {}) })
    return { ...reply, skey: reply.json.skey }
  }

  /** The secrets that must never show: every one the sandbox issued, plus extra ones, as is and URL-encoded. */
  assertNoSecrets (t: Test, extra: string[] = []): void {
    const secrets = [...this.sandbox.secrets(), ...extra].flatMap((s) => [s, encodeURIComponent(s)])
    const logs = this.logs.text
    const replies = this.replies.join('\n')
    t.ok(this.logs.lines.length > 0, 'log lines were captured')
    t.ok(secrets.length > 0, 'secrets were issued')
    t.equal(secrets.filter((secret) => logs.includes(secret)).length, 0, 'no secret in any log line')
    t.equal(secrets.filter((secret) => replies.includes(secret)).length, 0, 'no secret in any reply')
  }

  async close (): Promise<void> {
    await Promise.all(this.apps.map((app) => app.close()))
    const keys = await this.redis.keys(`${this.prefix}*`)
    if (keys.length > 0) await this.redis.del(...keys)
    this.redis.disconnect()
    await this.sandbox.close()
  }
}
