import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import type { AlipayAppOptions, MiniprogramAuthOptions } from '../../index.js'
import { bareBase64, createAlipaySandbox, generateRsaKeyPair, type AlipayIdentityMode, type AlipaySandbox } from '../../sandbox/index.js'
import { buildApp, LogCapture } from './app.js'
import { deleteKeys, sharedRedis, uniquePrefix } from './redis.js'

export const ALIPAY_APP_ID = '2021000000000001'

/**
 * One Alipay test file's world: a sandbox gateway that knows ALIPAY_APP_ID,
 * the shared Redis under a prefix of its own (deleted on teardown), and apps
 * logging at trace level into one capture. Logins go through `login`, which
 * keeps every reply for the final leak check.
 */
export class AlipayWorld {
  readonly logs = new LogCapture()
  readonly replies: string[] = []
  readonly redis = sharedRedis()
  readonly prefix: string
  /** The app key pair the sandbox knows ALIPAY_APP_ID by. */
  readonly appKeys = generateRsaKeyPair()
  private readonly apps: FastifyInstance[] = []
  private readonly sandboxes: AlipaySandbox[] = []

  private constructor (readonly sandbox: AlipaySandbox, name: string) {
    this.prefix = uniquePrefix(name)
    this.sandboxes.push(sandbox)
  }

  static async create (t: Test, name: string, identityMode: AlipayIdentityMode = 'open_id'): Promise<AlipayWorld> {
    const sandbox = await createAlipaySandbox()
    const world = new AlipayWorld(sandbox, name)
    t.teardown(() => world.close())
    sandbox.registerApp({ appId: ALIPAY_APP_ID, publicKey: world.appKeys.publicKey, identityMode })
    return world
  }

  /** Another gateway (another environment), closed with the world. */
  async otherGateway (): Promise<AlipaySandbox> {
    const sandbox = await createAlipaySandbox()
    this.sandboxes.push(sandbox)
    return sandbox
  }

  /** The options of ALIPAY_APP_ID, pointed at this world's sandbox. */
  options (extra: Partial<AlipayAppOptions> = {}): AlipayAppOptions {
    return { appId: ALIPAY_APP_ID, privateKey: this.appKeys.privateKey, alipayPublicKey: this.sandbox.publicKey, gateway: this.sandbox.url, timeout: '2s', ...extra }
  }

  async build (alipay: AlipayAppOptions = this.options(), options: MiniprogramAuthOptions = {}): Promise<FastifyInstance> {
    const app = await buildApp(this.redis, { keyPrefix: this.prefix, logs: this.logs, rateLimit: false, alipay, ...options })
    this.apps.push(app)
    return app
  }

  /** POST /auth/alipay/login, the reply kept for the leak check. */
  async login (app: FastifyInstance, payload: { authCode: string, appId?: string, scope?: string }): Promise<{ statusCode: number, body: string, json: Record<string, any> }> {
    const res = await app.inject({ method: 'POST', url: '/auth/alipay/login', payload })
    this.replies.push(res.body)
    return { statusCode: res.statusCode, body: res.body, json: res.json() }
  }

  /**
   * The log lines and replies that show a secret: a token any sandbox issued,
   * anything token-shaped (forged ones too), a piece of the app private key, or
   * one of `extra`.
   */
  leaks (extra: string[] = []): string[] {
    const secrets = [...this.sandboxes.flatMap((sandbox) => sandbox.secrets()), bareBase64(this.appKeys.privateKey).slice(40, 80), ...extra]
    return [...this.logs.lines, ...this.replies].filter((text) => /authusrB|access_token|refresh_token/.test(text) || secrets.some((secret) => text.includes(secret)))
  }

  async close (): Promise<void> {
    await Promise.all(this.apps.map((app) => app.close()))
    await deleteKeys(this.redis, this.prefix)
    this.redis.disconnect()
    await Promise.all(this.sandboxes.map((sandbox) => sandbox.close()))
  }
}
