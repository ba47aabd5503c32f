import tap, { type Test } from 'tap'
import { createPublicKey, randomBytes, randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { errors, type LoginProvider, type MiniprogramAuthOptions } from '../../index.js'
import { sessionIdOf } from '../../lib/skey.js'
import { createBaiduSandbox, createDouyinSandbox, createKuaishouSandbox, createQqSandbox, createWecomSandbox, generateRsaKeyPair } from '../../sandbox/index.js'
import { PlatformsWorld } from '../helpers/platforms.js'

// The server the helper talks to in these tests: the real plugin over HTTP,
// on the real sandboxes and Redis, with a few routes of an app: protected
// ones, ones that answer a given 401, an upload and a download. Each test
// file makes its own world (its sandboxes, its Redis prefix).

const WECHAT_APP = { appId: 'wx0000000000client', appSecret: 'client-test-secret-0123456789abcdef' }
const DOUYIN_APP = { appId: 'tt0000000000client', appSecret: 'client-douyin-secret-0123456789abcdef' }
const QQ_APP = { appId: '1112000000', appSecret: 'client-qq-secret-0123456789abcdef' }
const KUAISHOU_APP = { appId: 'ks0000000000client', appSecret: 'client-kuaishou-secret-0123456789abcdef' }
const BAIDU_APP = { appId: 'baiduClientAppKey00000000000001', appSecret: 'client-baidu-secret-0123456789abcdef' }
const WECOM_APP = { appId: 'wx00000000000wecom', corpId: 'ww00000000000client', appSecret: 'client-wecom-secret-0123456789abcdef' }

/**
 * The platforms whose phones the tests make by hand: the helper's built-in
 * Kuaishou, Baidu and WeCom (the server's providers, on their sandboxes), and
 * Feishu (Lark), which only an app's own adapter and provider know.
 */
export type CustomPlatform = 'kuaishou' | 'baidu' | 'wecom' | 'lark'

export const userIdOf = (openId: string) => `wechat:${WECHAT_APP.appId}:${openId}`

/**
 * A route that answers only when the test says so: `arrived` resolves once a
 * request is in the handler, `release` lets it answer.
 */
export interface Gate {
  arrived: Promise<void>
  release: () => void
}

function gate (): Gate & { arrive: () => void, released: Promise<void> } {
  let arrive = () => {}
  let release = () => {}
  const arrived = new Promise<void>((resolve) => { arrive = resolve })
  const released = new Promise<void>((resolve) => { release = resolve })
  return { arrived, arrive, released, release }
}

/**
 * A platform's login as the app's own provider plays it: single-use codes
 * handed to the phone's login call, exchanged for the openId they were issued for.
 */
class CodeIssuer {
  private readonly codes = new Map<string, string>()
  exchanges = 0

  issue (openId: string): string {
    const code = randomUUID()
    this.codes.set(code, openId)
    return code
  }

  provider (name: string): LoginProvider {
    return {
      name,
      resolveAppId: () => `${name}-app`,
      exchangeBudgetMs: () => 1000,
      exchange: async (code, { appId }) => {
        this.exchanges++
        const openId = this.codes.get(code)
        if (openId === undefined) throw new errors.CodeInvalidError('unknown or used code')
        this.codes.delete(code)
        return { identity: { provider: name, appId, openId }, secrets: {} }
      }
    }
  }
}

export interface ServerOptions {
  ttl?: string
  header?: string
  maxPerUser?: number
  /** Every reply wrapped as HTTP 200 `{ code, msg, data }`, as an app of that style answers (code 0: success). */
  envelope?: boolean
}

export interface ClientServer {
  app: FastifyInstance
  baseUrl: string
  /** GET /slowly-expired answers its 401 once released. */
  slow: Gate
}

export async function clientWorld (name: string) {
  const douyinSandbox = await createDouyinSandbox({ apps: { [DOUYIN_APP.appId]: DOUYIN_APP.appSecret } })
  const qqSandbox = await createQqSandbox({ apps: { [QQ_APP.appId]: QQ_APP.appSecret } })
  const kuaishouSandbox = await createKuaishouSandbox({ apps: { [KUAISHOU_APP.appId]: KUAISHOU_APP.appSecret } })
  const baiduSandbox = await createBaiduSandbox({ apps: { [BAIDU_APP.appId]: BAIDU_APP.appSecret } })
  const wecomSandbox = await createWecomSandbox({ corps: { [WECOM_APP.corpId]: WECOM_APP.appSecret } })
  const sandboxes = [douyinSandbox, qqSandbox, kuaishouSandbox, baiduSandbox, wecomSandbox]
  // The Douyin app's key pair, for phone numbers by code (base library 3.51.0+).
  const douyinKeys = generateRsaKeyPair()
  douyinSandbox.setPhoneKey(DOUYIN_APP.appId, douyinKeys.publicKey)
  tap.teardown(() => Promise.all(sandboxes.map((sandbox) => sandbox.close()))) // first registered, last run: after the apps close
  const world = await PlatformsWorld.create(tap, name, WECHAT_APP, '2021000000client1')
  world.watch(() => [...sandboxes.flatMap((sandbox) => sandbox.secrets()), douyinKeys.privateKey])
  // The Alipay app again, now with the AES key that opens my.getPhoneNumber's payloads.
  const alipayAesKey = randomBytes(16).toString('base64')
  const alipayApp = { ...world.platforms.options.alipay, aesKey: alipayAesKey }
  world.alipay.registerApp({ appId: alipayApp.appId, publicKey: createPublicKey(alipayApp.privateKey).export({ type: 'spki', format: 'pem' }).toString(), aesKey: alipayAesKey })
  world.watch(() => [alipayAesKey])
  // The login calls of the phones made by hand: the sandboxes' codes, and Lark's own provider's.
  const issuers = {
    kuaishou: { issue: (openId: string) => kuaishouSandbox.login({ openId }).code },
    baidu: { issue: (openId: string) => baiduSandbox.login({ openId }).code },
    wecom: { issue: (userId: string) => wecomSandbox.login({ corpId: WECOM_APP.corpId, userId }).code },
    lark: new CodeIssuer()
  }

  /** A listening app with every platform and the app routes; closed when `t` ends. */
  async function server (t: Test, options: ServerOptions = {}): Promise<ClientServer> {
    const slow = gate()
    const session: MiniprogramAuthOptions['session'] = {
      ttl: options.ttl ?? '1h',
      maxAge: '2h',
      ...(options.header ? { header: options.header } : {}),
      ...(options.maxPerUser ? { maxPerUser: options.maxPerUser } : {})
    }
    const app = await world.build({
      keyPrefix: world.subPrefix('client'),
      session,
      // The browser surfaces the helper hands on to: scan login and web-view pages.
      web: {},
      scanLogin: true,
      webview: true,
      alipay: alipayApp,
      douyin: { ...DOUYIN_APP, baseUrl: douyinSandbox.url, anonymousLogin: true, phonePrivateKey: douyinKeys.privateKey, openApiBaseUrl: douyinSandbox.url },
      qq: { ...QQ_APP, baseUrl: qqSandbox.url },
      kuaishou: { ...KUAISHOU_APP, baseUrl: kuaishouSandbox.url },
      baidu: { ...BAIDU_APP, baseUrl: baiduSandbox.url },
      wecom: { ...WECOM_APP, baseUrl: wecomSandbox.url },
      me: false,
      ...(options.envelope ? { before: async (app: FastifyInstance) => { app.addHook('onSend', envelope) } } : {})
    }, (app) => {
      app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (_request, body, done) => { done(null, body) })
      app.get('/me', { preHandler: app.authenticate }, async (request) => ({ user: request.user, query: request.query }))
      app.post<{ Body: { n: number } }>('/orders', {
        preHandler: app.authenticate,
        schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } }
      }, async (request, reply) => reply.code(201).send({ n: request.body.n, by: request.user.id }))
      app.get('/always-expired', async () => { throw new errors.SessionExpiredError() })
      app.get('/slowly-expired', async () => {
        slow.arrive()
        await slow.released
        throw new errors.SessionExpiredError()
      })
      // The 401s of the account-lifecycle codes, as the server words its errors.
      app.all<{ Params: { code: string } }>('/ended/:code', async (request, reply) => reply.code(401).send({ statusCode: 401, code: request.params.code, error: 'Unauthorized', message: `the session ended (${request.params.code})` }))
      // An avatar from chooseAvatar, uploaded with its form fields.
      app.post('/avatar', { preHandler: app.authenticate }, async (request, reply) => {
        const form = await new Response(request.body as Buffer, { headers: { 'content-type': request.headers['content-type']! } }).formData()
        const file = form.get('avatar')
        if (!(file instanceof Blob)) return reply.code(400).send({ statusCode: 400, code: 'NO_FILE', error: 'Bad Request', message: 'no avatar field' })
        return reply.code(201).send({ by: request.user.id, bytes: file.size, fields: Object.fromEntries([...form].filter(([, value]) => typeof value === 'string')) })
      })
      app.get<{ Params: { name: string } }>('/files/:name', { preHandler: app.authenticate }, async (request, reply) => {
        return reply.type('application/octet-stream').send(Buffer.from(`${request.params.name} for ${request.user.id}`))
      })
      app.miniprogramLogin.addProvider(issuers.lark.provider('lark'))
      app.post<{ Body: { code: string } }>('/auth/lark/login', async (request) => app.miniprogramLogin.login(request, 'lark', request.body.code))
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    // Closed when the test ends (the world would close it at the end of the file).
    t.teardown(() => app.close())
    t.teardown(slow.release) // registered last, run first: a test that failed early leaves no request hanging on close
    const { port } = app.server.address() as { port: number }
    return { app, baseUrl: `http://127.0.0.1:${port}`, slow: { arrived: slow.arrived, release: slow.release } }
  }

  /** Ends a session as its idle lifetime does (the record is gone): the server then answers MPA_SESSION_EXPIRED, and the helper logs in again. */
  const expire = async (app: FastifyInstance, skey: string): Promise<void> => {
    await world.redis.del(`${app.sessions.keyPrefix}s:${sessionIdOf(skey)}`)
  }

  return { world, wechatSandbox: world.wechat, alipaySandbox: world.alipay, douyinSandbox, qqSandbox, kuaishouSandbox, baiduSandbox, wecomSandbox, alipayApp, issuers, server, expire }
}

/**
 * Wraps every JSON reply as such apps do: HTTP 200 and `{ code: 0, msg, data }`,
 * or for an error `{ code: 40100 (401) or 40000 (other), msg, data: null, error: the MPA_ code }`.
 */
async function envelope (_request: unknown, reply: { statusCode: number, getHeader: (name: string) => unknown, code: (status: number) => unknown }, payload: unknown): Promise<unknown> {
  if (typeof payload !== 'string' || !String(reply.getHeader('content-type')).startsWith('application/json')) return payload
  const body = JSON.parse(payload) as { code?: string, message?: string }
  const status = reply.statusCode
  reply.code(200)
  if (status < 400) return JSON.stringify({ code: 0, msg: 'ok', data: body })
  return JSON.stringify({ code: status === 401 ? 40100 : 40000, msg: body.message, data: null, error: body.code })
}
