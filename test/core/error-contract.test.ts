import { test, type Test } from 'tap'
import fastifyRateLimit from '@fastify/rate-limit'
import type { TestAppOptions } from '../helpers/app.js'
import { PlatformsWorld } from '../helpers/platforms.js'

// Errors that are not ours, on our routes: they keep their status, get a
// stable code, and an unexpected one tells the client nothing of its cause.

const WECHAT = { appId: 'wx00000000000errors', appSecret: 'errors-secret-0123456789' }

// Each test its own platforms and app; each ends with the leak check over
// everything its app answered and logged.
async function world (t: Test, options: TestAppOptions = {}) {
  const world = await PlatformsWorld.create(t, 'errors', WECHAT, '2021000000errors1')
  const app = await world.build(options)
  const login = (openId = 'oErrors00000000000000000001') => app.inject({
    method: 'POST', url: '/auth/wechat/login', payload: { code: world.wechat.issueCode({ openId }) }
  })
  const loginWith = (code: string) => app.inject({ method: 'POST', url: '/auth/wechat/login', payload: { code } })
  const issueCode = () => world.wechat.issueCode({ openId: 'oErrors00000000000000000002' })
  return { app, logs: world.logs, login, loginWith, issueCode, assertNoSecrets: () => world.assertNoSecrets(t) }
}

test('an app-wide @fastify/rate-limit: its 429 keeps its status and message, with a stable code and Retry-After', async (t) => {
  const { app, login, assertNoSecrets } = await world(t, {
    rateLimit: false,
    before: async (app) => { await app.register(fastifyRateLimit, { max: 2, timeWindow: '1 minute' }) }
  })
  t.equal((await login()).statusCode, 200)
  t.equal((await app.inject({ url: '/auth/session' })).statusCode, 401, 'our own error passes through the app-wide limit')
  const limited = await login()
  t.equal(limited.statusCode, 429)
  t.same(Object.keys(limited.json()).sort(), ['code', 'error', 'message', 'statusCode'])
  t.equal(limited.json().code, 'MPA_RATE_LIMITED')
  t.match(limited.json().message, /Rate limit exceeded, retry in/)
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After')
  const session = await app.inject({ url: '/auth/session' })
  t.equal(session.statusCode, 429, 'on the session routes too')
  t.equal(session.json().code, 'MPA_RATE_LIMITED')
  assertNoSecrets()
})

test('resolveUser throwing a 4xx of its own: its status and message, a stable code', async (t) => {
  const { login, assertNoSecrets } = await world(t, {
    resolveUser: () => { throw Object.assign(new Error('banned'), { statusCode: 403 }) }
  })
  const res = await login()
  t.equal(res.statusCode, 403)
  t.same(res.json(), { statusCode: 403, code: 'MPA_REQUEST_REJECTED', error: 'Forbidden', message: 'banned' })
  assertNoSecrets()
})

test('resolveUser throwing a database error: 500 MPA_INTERNAL_ERROR, the cause in the log only', async (t) => {
  const cause = 'connect ECONNREFUSED 10.0.0.5:5432 (user billing, password hunter2)'
  const { login, logs, assertNoSecrets } = await world(t, {
    resolveUser: () => { throw Object.assign(new Error(cause), { code: 'ECONNREFUSED' }) }
  })
  const res = await login()
  t.equal(res.statusCode, 500)
  t.same(res.json(), { statusCode: 500, code: 'MPA_INTERNAL_ERROR', error: 'Internal Server Error', message: 'Internal server error' })
  t.notOk(res.body.includes('hunter2') || res.body.includes('ECONNREFUSED'), 'nothing of the cause reaches the client')
  t.ok(logs.text.includes('hunter2'), 'the operator finds the cause in the log')
  assertNoSecrets()
})

test('resolveUser throwing anything at all: 500 MPA_INTERNAL_ERROR, and a retry of the code is answered at once', async (t) => {
  const unreadable = Object.defineProperty(new Error('x'), 'message', { get () { throw new Error('no message') } })
  const thrown: unknown[] = [null, undefined, 'a string', 42, unreadable, { code: 'MPA_MADE_UP', statusCode: 500, message: 'internal detail of the app' }]
  for (const value of thrown) {
    await t.test(String(value === unreadable ? 'an error whose message getter throws' : JSON.stringify(value)), async (t) => {
      const { loginWith: login, issueCode, assertNoSecrets } = await world(t, { resolveUser: () => { throw value } })
      const code = issueCode()
      const first = await login(code)
      t.equal(first.statusCode, 500)
      t.same(first.json(), { statusCode: 500, code: 'MPA_INTERNAL_ERROR', error: 'Internal Server Error', message: 'Internal server error' }, 'a code shaped like ours is not ours')
      // Left pending, the claim would hold the retry for the whole pending window (20 s here).
      const started = Date.now()
      const retry = await login(code)
      t.equal(retry.json().code, 'MPA_CODE_INVALID', 'the claim was released: the retry reached WeChat, which had spent the code')
      t.ok(Date.now() - started < 10_000, 'without waiting out a pending claim')
      assertNoSecrets()
    })
  }
})

test('an app hook answering 503 for maintenance: by throwing, or with a body of its own', async (t) => {
  let mode: 'throw' | 'send' | 'off' = 'off'
  const { app, login, assertNoSecrets } = await world(t, {
    before: async (app) => {
      app.addHook('onRequest', async (_request, reply) => {
        if (mode === 'throw') throw Object.assign(new Error('down for maintenance'), { statusCode: 503 })
        if (mode === 'send') return reply.code(503).header('retry-after', '60').send({ maintenance: true, message: 'back at 03:00' })
      })
    }
  })
  mode = 'throw'
  const thrown = await login()
  t.equal(thrown.statusCode, 503, 'the status stays')
  t.equal(thrown.json().code, 'MPA_INTERNAL_ERROR', 'a 5xx not of ours: a stable code')
  mode = 'send'
  for (const url of ['/auth/wechat/login', '/auth/session']) {
    const sent = await app.inject({ method: url.endsWith('login') ? 'POST' : 'GET', url, payload: url.endsWith('login') ? { code: 'c' } : undefined })
    t.equal(sent.statusCode, 503, url)
    t.same(sent.json(), { maintenance: true, message: 'back at 03:00' }, `${url}: the app's own body passes unchanged`)
  }
  mode = 'off'
  t.equal((await login()).statusCode, 200)
  assertNoSecrets()
})

test('our own errors keep their code and message; validation errors keep Fastify\'s code', async (t) => {
  const { app, assertNoSecrets } = await world(t)
  const missing = await app.inject({ url: '/auth/session' })
  t.same(missing.json(), { statusCode: 401, code: 'MPA_SKEY_MISSING', error: 'Unauthorized', message: 'No skey: send it in the x-skey header or as Authorization: Bearer' })
  const invalid = await app.inject({ method: 'POST', url: '/auth/wechat/login', payload: { code: 5 } })
  t.equal(invalid.statusCode, 400)
  t.equal(invalid.json().code, 'FST_ERR_VALIDATION')
  assertNoSecrets()
})
