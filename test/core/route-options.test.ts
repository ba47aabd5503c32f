import t, { test } from 'tap'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Session } from '../../index.js'
import { PlatformsWorld } from '../helpers/platforms.js'

// The app's own hooks, config and documentation on every route of ours,
// through the `routes` option: no onRoute tricks in the app.

const WECHAT_APP = { appId: 'wx0000000000routes', appSecret: 'secret-of-the-route-options-test-0123' }
const ALIPAY_APP_ID = '2021000000route01'

const world = await PlatformsWorld.create(t, 'route-options', WECHAT_APP, ALIPAY_APP_ID)

/** What the app's hooks read: its own config keys, next to ours. */
const configOf = (request: FastifyRequest) => request.routeOptions.config as { policy?: string, public?: boolean }

/** Every route of ours an app gets (HEAD routes are Fastify's twins of the GET ones). */
function ourRoutes (app: FastifyInstance & { ourRoutes?: Array<{ method: string, url: string }> }) {
  return app.ourRoutes!
}

/** Records the routes registered after it (ours, and GET /me of the helper) on the app. */
async function recordRoutes (app: FastifyInstance): Promise<void> {
  const routes: Array<{ method: string, url: string }> = []
  app.decorate('ourRoutes', routes)
  app.addHook('onRoute', ({ method, url }) => {
    for (const one of [method].flat()) if (one !== 'HEAD' && url.startsWith('/auth/')) routes.push({ method: one, url })
  })
}

async function loginBoth (app: FastifyInstance): Promise<{ wechat: string, alipay: string }> {
  const wechat = await world.post(app, '/auth/wechat/login', { code: world.wechat.issueCode({ openId: `o-routes-${Math.random()}` }) })
  const alipay = await world.post(app, '/auth/alipay/login', { authCode: world.alipay.issueAuthCode({ openId: `a-routes-${Math.random()}` }) })
  return { wechat: wechat.json.skey, alipay: alipay.json.skey }
}

test('the app\'s onRequest hook and config reach every route of ours, and our preHandlers still run first', async (t) => {
  const onRequest: string[] = []
  const preHandler: Array<{ url: string, provider: string | null }> = []
  const app = await world.build({
    before: recordRoutes,
    routes: {
      config: { policy: 'audited', rateLimit: false },
      onRequest: async (request: FastifyRequest) => {
        onRequest.push(`${request.method} ${request.routeOptions.url} ${String(configOf(request).policy)}`)
        if (request.headers['x-blocked'] !== undefined) throw Object.assign(new Error('blocked by the app\'s policy'), { statusCode: 403 })
      },
      preHandler: async (request: FastifyRequest) => {
        // Null on the login routes: no session there.
        preHandler.push({ url: request.routeOptions.url!, provider: (request as unknown as { session: Session | null }).session?.provider ?? null })
      },
      schema: { tags: ['auth'] }
    },
    rateLimit: { max: 5 }
  })
  const routes = ourRoutes(app)
  t.ok(routes.length >= 8, `${routes.length} routes of ours`)
  for (const { method, url } of routes) {
    await app.inject({ method: method as 'GET', url: url.replace(':id', '0'.repeat(32)) })
  }
  t.same(onRequest.sort(), routes.map(({ method, url }) => `${method} ${url} audited`).sort(), 'one onRequest call on every route, with the config')
  t.same(preHandler, [], 'no skey: authenticate refused first, the app\'s preHandler never ran')

  const blocked = await app.inject({ url: '/auth/session', headers: { 'x-blocked': '1' } })
  t.equal(blocked.statusCode, 403, 'the app\'s policy answers on our route')
  t.equal(blocked.json().code, 'MPA_REQUEST_REJECTED', 'through our error contract')

  const { wechat, alipay } = await loginBoth(app)
  t.equal((await world.call(app, 'GET', '/auth/session', undefined, wechat)).statusCode, 200)
  const info = await world.post(app, '/auth/wechat/userinfo', { encryptedData: 'AAAA', iv: 'AAAA' }, alipay)
  t.equal(info.json.code, 'MPA_WRONG_PROVIDER', 'our provider check still runs on the WeChat routes')
  t.same(preHandler, [
    { url: '/auth/wechat/login', provider: null },
    { url: '/auth/alipay/login', provider: null },
    { url: '/auth/session', provider: 'wechat' }
  ], 'the app\'s preHandler ran after authenticate, with the session; not after a refusal')

  // Our config keys win: the app's rateLimit: false does not lift the login rate limit.
  // One after the other: sent together, either could take the fifth slot.
  const fifth = await world.post(app, '/auth/wechat/login', { code: 'not-a-code' })
  const sixth = await world.post(app, '/auth/wechat/login', { code: 'not-a-code' })
  t.same([fifth.statusCode, sixth.statusCode], [401, 429], 'the login rate limit still counts (5 a minute, 4 used above)')
})

test('a function gives each route its own options; schema documentation is the app\'s, validation stays ours', async (t) => {
  const seen: string[] = []
  const asked: string[] = []
  const app = await world.build({
    rateLimit: false,
    routes: ({ method, url }) => {
      asked.push(`${String(method)} ${url}`)
      if (!url.endsWith('/login')) return undefined
      return {
        config: { public: true },
        onRequest: async (request: FastifyRequest) => { seen.push(`${request.routeOptions.url} ${String(configOf(request).public)} ${request.routeOptions.schema?.tags?.join()}`) },
        schema: { tags: ['public'], summary: 'Log in' }
      }
    }
  })
  t.ok(asked.includes('POST /auth/wechat/login') && asked.includes('GET /auth/session'), 'asked for every route')
  const bad = await world.post(app, '/auth/wechat/login', { code: 42 })
  t.equal(bad.json.code, 'FST_ERR_VALIDATION', 'the body schema is still ours')
  await world.post(app, '/auth/alipay/login', { authCode: world.alipay.issueAuthCode({ openId: 'a-fn' }) })
  await app.inject({ url: '/auth/session' })
  t.same(seen, ['/auth/wechat/login true public', '/auth/alipay/login true public'], 'only the login routes got them')
})

test('route options are checked at register time, naming the key', async (t) => {
  const fails = (routes: unknown) => world.build({ routes: routes as never })
  await t.rejects(fails({ onrequest: async () => {} }), /^unknown option routes\.onrequest: routes takes config, schema, onRequest/)
  await t.rejects(fails({ schema: { body: {} } }), /^unknown option routes\.schema\.body: routes\.schema takes tags, summary/)
  await t.rejects(fails({ preHandler: 'check' }), /^routes\.preHandler must be a hook function or an array of them/)
  await t.rejects(fails({ config: 'audited' }), /^routes\.config must be an object/)
  await t.rejects(fails(() => ({ onSend: [async () => {}, 1] })), /^routes\(GET \/auth\/session\)\.onSend must be a hook function/)
})

test('no secret in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})
