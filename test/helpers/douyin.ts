import type { FastifyInstance } from 'fastify'
import type { DouyinAppOptions } from '../../index.js'
import { createDouyinSandbox, type DouyinSandbox, type DouyinSandboxOptions, type DouyinSandboxUser } from '../../sandbox/douyin.js'
import type { TestAppOptions } from './app.js'
import type { Teardown } from './redis.js'
import { World, type Reply } from './world.js'

export const APP_ID = 'tt00000000000000a1'
export const OTHER_APP_ID = 'tt00000000000000b2'

const SECRETS: Record<string, string> = { [APP_ID]: `secret-${APP_ID}-0123456789abcdef`, [OTHER_APP_ID]: `secret-${OTHER_APP_ID}-fedcba9876543210` }

/** One test file's Douyin world: a Douyin sandbox and a World, for the final leak check. */
export class DouyinWorld extends World {
  private constructor (t: Teardown, readonly sandbox: DouyinSandbox, name: string) {
    super(t, name)
    this.watch(() => sandbox.secrets())
  }

  static async create (t: Teardown, name: string, options: Omit<DouyinSandboxOptions, 'apps'> = {}): Promise<DouyinWorld> {
    const sandbox = await createDouyinSandbox({ ...options, apps: SECRETS })
    t.teardown(() => sandbox.close()) // first registered, last run: after the apps close
    return new DouyinWorld(t, sandbox, name)
  }

  /** The app config Douyin knows, pointed at the sandbox. */
  app (appId = APP_ID, extra: Partial<DouyinAppOptions> = {}): DouyinAppOptions {
    return { appId, appSecret: SECRETS[appId] ?? 'not-a-secret-douyin-knows', baseUrl: this.sandbox.url, timeout: '2s', ...extra }
  }

  override build (options: TestAppOptions = {}, addRoutes?: (app: FastifyInstance) => void): Promise<FastifyInstance> {
    return super.build({ douyin: this.app(), ...options }, addRoutes)
  }

  /** tt.login in the sandbox, then POST /auth/douyin/login with what it gave (`send` picks the codes sent). */
  async login (app: FastifyInstance, user: DouyinSandboxUser, { appId, send = ['code', 'anonymousCode'] }: { appId?: string, send?: Array<'code' | 'anonymousCode'> } = {}): Promise<Reply & { skey: string }> {
    const codes = this.sandbox.login(user, appId)
    const body = Object.fromEntries(send.filter((name) => codes[name] !== undefined).map((name) => [name, codes[name]]))
    const reply = await this.post(app, '/auth/douyin/login', { ...body, ...(appId ? { appId } : {}) })
    return { ...reply, skey: reply.json.skey }
  }
}
