import { test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { requireDecorators, requireProvider } from '../../routes/guards.js'
import type { Provider, Session } from '../../types.js'

// The route guards on a bare Fastify instance: no plugin of this package, no
// Redis. A request's session is whatever the x-provider header says.

async function appWith (guard: Provider): Promise<FastifyInstance> {
  const app = Fastify()
  app.decorateRequest('session', null as unknown as Session)
  app.addHook('onRequest', async (request) => {
    const provider = request.headers['x-provider']
    if (typeof provider === 'string') request.session = { provider } as Session
  })
  app.get('/guarded', { preHandler: requireProvider(guard) }, async () => ({ ok: true }))
  await app.ready()
  return app
}

test('requireDecorators: nothing missing, nothing said', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.decorate('sessions', {} as never)
  app.decorate('wechat', {} as never)
  t.doesNotThrow(() => requireDecorators(app, 'wechat routes', ['sessions', 'wechat']))
  t.doesNotThrow(() => requireDecorators(app, 'wechat routes', []), 'no names, no requirement')
})

test('requireDecorators: the message names the route file and only what is missing', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.decorate('sessions', {} as never)
  const cases: Array<[string, string[], string]> = [
    ['wechat routes', ['sessions', 'wechat'], 'wechat routes: register fastify-miniprogram-auth (or the plugins that add wechat) before these routes'],
    ['session routes', ['authenticate', 'sessions', 'miniprogramLogin'], 'session routes: register fastify-miniprogram-auth (or the plugins that add authenticate, miniprogramLogin) before these routes'],
    ['alipay routes', ['alipay'], 'alipay routes: register fastify-miniprogram-auth (or the plugins that add alipay) before these routes']
  ]
  for (const [routes, names, message] of cases) {
    t.throws(() => requireDecorators(app, routes, names), { message }, routes)
  }
})

test('requireDecorators: a decorator of a parent instance counts, one of a sibling does not', async (t) => {
  const root = Fastify()
  t.teardown(() => root.close())
  root.decorate('sessions', {} as never)
  const seen: Array<string | null> = []
  const attempt = (names: string[]) => async (child: FastifyInstance) => {
    try {
      requireDecorators(child, 'routes', names)
      seen.push(null)
    } catch (err) {
      seen.push((err as Error).message)
    }
  }
  await root.register(async (sibling) => { sibling.decorate('wechat', {} as never) })
  await root.register(attempt(['sessions']))
  await root.register(attempt(['sessions', 'wechat']))
  await root.ready()
  t.same(seen, [null, 'routes: register fastify-miniprogram-auth (or the plugins that add wechat) before these routes'])
})

test('requireProvider: a session of another provider is a 403 MPA_WRONG_PROVIDER naming the one needed', async (t) => {
  const cases: Array<[Provider, Provider, number]> = [
    ['wechat', 'wechat', 200],
    ['wechat', 'alipay', 403],
    ['alipay', 'alipay', 200],
    ['alipay', 'wechat', 403]
  ]
  for (const [guard, provider, statusCode] of cases) {
    const app = await appWith(guard)
    t.teardown(() => app.close())
    const res = await app.inject({ url: '/guarded', headers: { 'x-provider': provider } })
    t.equal(res.statusCode, statusCode, `a ${guard} route, a ${provider} session`)
    t.same(res.json(), statusCode === 200
      ? { ok: true }
      : { statusCode: 403, code: 'MPA_WRONG_PROVIDER', error: 'Forbidden', message: `This route needs a ${guard} session` })
  }
})

test('requireProvider: no session at all is refused too, never let through', async (t) => {
  const app = await appWith('wechat')
  t.teardown(() => app.close())
  const res = await app.inject({ url: '/guarded' })
  t.not(res.statusCode, 200, 'not let through')
  t.notMatch(res.body, /"ok":true/)
})
