import type { FastifyInstance } from 'fastify'
import type { Identity } from '../../index.js'
import { createWechatOAuthSandbox, type WechatOAuthSandbox } from '../../sandbox/index.js'
import type { TestAppOptions } from './app.js'
import type { Teardown } from './redis.js'
import { World } from './world.js'

export const OA_APP = { appId: 'wx0a00000000000oa1', appSecret: 'secret-of-the-oauth-oa-test-0123456789' }
export const WEB_APP = { appId: 'wx0a0000000000web1', appSecret: 'secret-of-the-oauth-web-test-0123456789' }
export const MOBILE_APP = { appId: 'wx0a0000000000app1', appSecret: 'secret-of-the-oauth-app-test-0123456789' }
export const TARGET = 'https://app.example.test/'

/**
 * A World with WeChat's OAuth sandbox (an official account, a website and a
 * mobile app, Ann with a unionid and Bob without), apps whose identities are
 * recorded, and the leak check over what the sandbox issued.
 */
export class OAuthWorld extends World {
  readonly identities: Identity[] = []

  private constructor (t: Teardown, readonly sandbox: WechatOAuthSandbox, name: string) {
    super(t, name)
    this.watch(() => sandbox.secrets())
  }

  static async create (t: Teardown, name: string): Promise<OAuthWorld> {
    const sandbox = await createWechatOAuthSandbox({
      apps: {
        [OA_APP.appId]: { secret: OA_APP.appSecret, kind: 'oa', callbackDomain: 'api.example.test' },
        [WEB_APP.appId]: { secret: WEB_APP.appSecret, kind: 'website' },
        [MOBILE_APP.appId]: { secret: MOBILE_APP.appSecret, kind: 'app' }
      },
      users: { ann: { unionId: 'union-ann', nickname: 'Ann 安', sex: 2, city: 'Shenzhen' }, bob: { nickname: 'Bob' } }
    })
    t.teardown(() => sandbox.close())
    return new OAuthWorld(t, sandbox, name)
  }

  /** The three surfaces on the sandbox; `callbackBase` is where WeChat sends the browser back (the app's address). */
  override build (options: TestAppOptions & { callbackBase?: string } = {}, addRoutes?: (app: FastifyInstance) => void): Promise<FastifyInstance> {
    const { callbackBase = 'https://api.example.test', ...rest } = options
    const url = this.sandbox.url
    return super.build({
      web: { redirects: [TARGET] },
      wechatOa: { ...OA_APP, baseUrl: url, authorizeUrl: url, callbackUrl: `${callbackBase}/auth/wechat-oa/callback` },
      wechatWeb: { ...WEB_APP, baseUrl: url, authorizeUrl: url, callbackUrl: `${callbackBase}/auth/wechat-web/callback` },
      wechatApp: { ...MOBILE_APP, baseUrl: url },
      resolveUser: (identity) => {
        this.identities.push(identity)
        return { id: identity.unionId ?? `${identity.provider}:${identity.openId!}` }
      },
      ...rest
    }, addRoutes)
  }

  /** WeChat's consent page: the user approves (a redirect with code and state) or refuses (state only). The Location. */
  async consent (authorizeUrl: string, choice: 'ann' | 'bob' | 'refuse'): Promise<URL> {
    const page = await (await fetch(authorizeUrl)).text()
    const id = choice === 'refuse' ? 'refuse' : `approve-${choice}`
    const href = new RegExp(`id="${id}" href="([^"]+)"`).exec(page)?.[1]
    if (href === undefined) throw new Error(`no ${id} on the consent page: ${page}`)
    const res = await fetch(new URL(href.replaceAll('&amp;', '&'), this.sandbox.url), { redirect: 'manual' })
    return new URL(res.headers.get('location')!)
  }
}
