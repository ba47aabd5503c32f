import t, { test } from 'tap'
import diagnostics from 'node:diagnostics_channel'
import type { FastifyInstance } from 'fastify'
import { miniprogramAuthMetrics } from '../../examples/metrics.js'
import { buildApp } from '../helpers/app.js'
import { PlatformsWorld } from '../helpers/platforms.js'
import { privateRedis } from '../helpers/redis.js'
import { assertNoSecrets } from '../helpers/secrets.js'

// What the package publishes on node:diagnostics_channel, as a subscriber
// (an APM agent, metrics code) sees it: names, payloads, and never a secret.

const CHANNELS = ['login', 'revocation', 'upstream', 'store'] as const
type Channel = typeof CHANNELS[number]
type Message = Record<string, any>

const WECHAT_APP = { appId: 'wx000000000000diag', appSecret: 'secret-of-the-diagnostics-test-0123' }
const ALIPAY_APP_ID = '2021000000000diag'

const world = await PlatformsWorld.create(t, 'diagnostics', WECHAT_APP, ALIPAY_APP_ID)
// Every message published, read by the world's leak check like a log line
// (every sandbox secret: session_keys, tokens, app secrets, private keys),
// and the login codes, which are secrets here too.
const published = world.capture()
const codes: string[] = []

/** Subscribes to every channel until `t` ends; returns what each one published. */
function listen (t: { teardown: (fn: () => void) => void }): Record<Channel, Message[]> {
  const seen = Object.fromEntries(CHANNELS.map((channel) => [channel, []])) as unknown as Record<Channel, Message[]>
  for (const channel of CHANNELS) {
    const subscriber = (message: unknown) => {
      seen[channel].push(message as Message)
      published.lines.push(JSON.stringify(message) + '\n')
    }
    diagnostics.subscribe(`fastify-miniprogram-auth:${channel}`, subscriber)
    t.teardown(() => diagnostics.unsubscribe(`fastify-miniprogram-auth:${channel}`, subscriber))
  }
  return seen
}

const wechatCode = (openId: string) => {
  const code = world.wechat.issueCode({ openId })
  codes.push(code)
  return code
}
const alipayCode = (openId: string) => {
  const code = world.alipay.issueAuthCode({ openId })
  codes.push(code)
  return code
}

const app: FastifyInstance = await world.build({ rateLimit: false, wechat: { ...world.platforms.options.wechat, timeout: '300ms' } })

test('a login: its outcome, provider, appId and duration; the upstream call it made', async (t) => {
  const seen = listen(t)
  const code = wechatCode('o-diag-login')
  const login = await world.post(app, '/auth/wechat/login', { code })
  t.equal(login.statusCode, 200)
  t.equal(seen.login.length, 1, 'one login event')
  t.match(seen.login[0], { provider: 'wechat', appId: WECHAT_APP.appId, outcome: 'success', replay: false, durationMs: Number })
  t.notOk('code' in seen.login[0]!, 'no error code on success')
  t.equal(seen.upstream.length, 1, 'one upstream event')
  t.match(seen.upstream[0], { provider: 'wechat', operation: 'sns/jscode2session', appId: WECHAT_APP.appId, outcome: 'ok', durationMs: Number })

  await world.post(app, '/auth/wechat/login', { code })
  t.match(seen.login[1], { outcome: 'success', replay: true }, 'a retried code: a success, told apart')
  t.equal(seen.upstream.length, 1, 'and no second upstream call')

  const alipay = await world.post(app, '/auth/alipay/login', { authCode: alipayCode('a-diag-login') })
  t.equal(alipay.statusCode, 200)
  t.match(seen.login[2], { provider: 'alipay', appId: ALIPAY_APP_ID, outcome: 'success' })
  t.match(seen.upstream[1], { provider: 'alipay', operation: 'alipay.system.oauth.token', appId: ALIPAY_APP_ID, outcome: 'ok' })
})

test('failed logins: our error code and status; the platform\'s errcode on the upstream call', async (t) => {
  const seen = listen(t)
  const invalid = await world.post(app, '/auth/wechat/login', { code: 'invalid-code-0001' })
  t.equal(invalid.statusCode, 401)
  t.match(seen.login[0], { provider: 'wechat', appId: WECHAT_APP.appId, outcome: 'failure', code: 'MPA_CODE_INVALID', statusCode: 401 })
  t.match(seen.upstream[0], { provider: 'wechat', operation: 'sns/jscode2session', outcome: 'error', errcode: 40029 })

  const unknownApp = await world.post(app, '/auth/wechat/login', { code: wechatCode('o-diag-app'), appId: 'wx-not-ours' })
  t.equal(unknownApp.statusCode, 400)
  t.match(seen.login[1], { outcome: 'failure', code: 'MPA_UNKNOWN_APP', statusCode: 400 })
  t.notOk('appId' in seen.login[1]!, 'an appId nobody configured is not repeated')

  world.wechat.fail('jscode2session', { delayMs: 2000 })
  const slow = await world.post(app, '/auth/wechat/login', { code: wechatCode('o-diag-slow') })
  t.equal(slow.statusCode, 504)
  t.equal(seen.upstream.length, 2, 'an unknown appId made no upstream call')
  t.match(seen.upstream[1], { provider: 'wechat', outcome: 'timeout', code: 'MPA_UPSTREAM_TIMEOUT' })
  t.match(seen.login[2], { outcome: 'failure', code: 'MPA_UPSTREAM_TIMEOUT', statusCode: 504 })

  const alipay = await world.post(app, '/auth/alipay/login', { authCode: 'not-an-auth-code' })
  t.equal(alipay.statusCode, 401)
  t.match(seen.upstream[2], { provider: 'alipay', operation: 'alipay.system.oauth.token', outcome: 'error', errcode: String, code: 'MPA_CODE_INVALID' })
  t.match(seen.login[3], { provider: 'alipay', outcome: 'failure', code: 'MPA_CODE_INVALID' })
})

test('revocations: the reason and how many; authenticate publishes nothing', async (t) => {
  const seen = listen(t)
  const skeys = []
  for (let i = 0; i < 3; i++) skeys.push((await world.post(app, '/auth/wechat/login', { code: wechatCode('o-diag-revoke') })).json.skey)
  const before = published.lines.length
  for (let i = 0; i < 5; i++) t.equal((await world.call(app, 'GET', '/me', undefined, skeys[0])).statusCode, 200)
  t.equal(published.lines.length, before, 'five authenticated requests, nothing published')

  t.equal((await world.call(app, 'DELETE', '/auth/session', undefined, skeys[0])).statusCode, 204)
  t.equal((await world.call(app, 'DELETE', '/auth/sessions', undefined, skeys[1])).json.revoked, 2)
  t.same(seen.revocation, [{ reason: 'logout', count: 1 }, { reason: 'logout-all', count: 2 }])

  const capped = await world.build({ rateLimit: false, session: { maxPerUser: 1 } })
  for (let i = 0; i < 2; i++) t.equal((await world.post(capped, '/auth/wechat/login', { code: wechatCode('o-diag-cap') })).statusCode, 200)
  const { skey } = await capped.sessions.create({ provider: 'wechat', appId: WECHAT_APP.appId, openId: 'o-diag-admin' }, { user: { id: 'diag-admin' } })
  t.equal(await capped.sessions.revoke(skey), true)
  t.same(seen.revocation.slice(2), [{ reason: 'cap', count: 1 }, { reason: 'admin', count: 1 }], 'the cap and the app\'s own revocations too')
})

test('a store timeout: published with the timeout, and the request gets its 503', async (t) => {
  const seen = listen(t)
  const { server, redis } = await privateRedis(t)
  const frozen = await buildApp(redis, { session: { storeTimeout: '200ms', cache: false }, logs: world.capture() })
  t.teardown(() => frozen.close())
  const { skey } = await frozen.sessions.create({ provider: 'wechat', appId: 'wx', openId: 'o' }, { user: { id: 'u' } })
  server.pause()
  const res = await frozen.inject({ url: '/me', headers: { 'x-skey': skey } })
  server.resume()
  t.equal(res.statusCode, 503)
  t.same(seen.store, [{ event: 'timeout', timeoutMs: 200 }])
})

test('tracing channels: a span around each upstream call and each piece of Redis work, with its error; a cache hit makes none', async (t) => {
  const events: Array<{ kind: string, event: string, context: Message }> = []
  for (const kind of ['upstream', 'store']) {
    const handlers = Object.fromEntries(['start', 'end', 'asyncStart', 'asyncEnd', 'error'].map((event) => [event, (context: unknown) => {
      events.push({ kind, event, context: context as Message })
      // What a tracer would export: the context's own fields (tracePromise adds result or error).
      const { result, error, ...fields } = context as Message
      published.lines.push(JSON.stringify({ kind, event, fields, error: (error as Error | undefined)?.message }) + '\n')
    }]))
    const channel = diagnostics.tracingChannel(`fastify-miniprogram-auth:${kind}`)
    channel.subscribe(handlers as never)
    t.teardown(() => channel.unsubscribe(handlers as never))
  }
  const spans = (kind: string, event: string) => events.filter((e) => e.kind === kind && e.event === event).map((e) => e.context)

  const login = await world.post(app, '/auth/wechat/login', { code: wechatCode('o-diag-trace') })
  t.equal(login.statusCode, 200)
  t.match(spans('upstream', 'start'), [{ provider: 'wechat', operation: 'sns/jscode2session', appId: WECHAT_APP.appId }], 'one upstream span')
  t.equal(spans('upstream', 'asyncEnd').length, 1, 'ended')
  const operations = spans('store', 'start').map(({ operation }) => operation)
  t.ok(operations.includes('code.claim') && operations.includes('session.create') && operations.includes('code.settle'), operations.join(', '))
  t.equal(spans('store', 'asyncEnd').length, operations.length, 'every store span ended')

  const skey = login.json.skey as string
  // Reads fill the cache, unless the login's own write's invalidation arrives
  // after one of them began: within a few reads, one is a hit.
  let spansOfRead = -1
  for (let i = 0; i < 20 && spansOfRead !== 0; i++) {
    const before = events.length
    t.equal((await world.call(app, 'GET', '/me', undefined, skey)).statusCode, 200)
    spansOfRead = events.length - before
  }
  t.equal(spansOfRead, 0, 'a cache hit: no span')

  const failed = await world.post(app, '/auth/alipay/login', { authCode: 'not-an-auth-code-trace' })
  t.equal(failed.statusCode, 401)
  t.match(spans('upstream', 'error'), [{ provider: 'alipay', operation: 'alipay.system.oauth.token', error: { code: 'MPA_CODE_INVALID' } }], 'a call that failed: its span carries the error')
})

test('the Prometheus example counts what the channels say', async (t) => {
  const metrics = miniprogramAuthMetrics()
  t.teardown(() => metrics.close())
  const login = await world.post(app, '/auth/wechat/login', { code: wechatCode('o-diag-metrics') })
  await world.post(app, '/auth/wechat/login', { code: 'invalid-code-0002' })
  t.equal((await world.call(app, 'DELETE', '/auth/session', undefined, login.json.skey as string)).statusCode, 204)
  diagnostics.channel('fastify-miniprogram-auth:store').publish({ event: 'timeout', timeoutMs: 2000 })
  const text = metrics.text()
  t.match(text, /^mpa_sessions_revoked_total\{reason="logout"\} 1$/m)
  t.match(text, /^mpa_store_timeouts_total\{event="timeout"\} 1$/m)
  t.match(text, /^mpa_logins_total\{provider="wechat",outcome="success"\} 1$/m)
  t.match(text, /^mpa_logins_total\{provider="wechat",outcome="failure",code="MPA_CODE_INVALID"\} 1$/m)
  t.match(text, /^mpa_upstream_calls_total\{provider="wechat",operation="sns\/jscode2session",outcome="error",errcode="40029"\} 1$/m)
  t.match(text, /^mpa_upstream_duration_ms_sum\{provider="wechat",operation="sns\/jscode2session"\} [\d.]+$/m)
})

test('nothing published carries a secret, a login code or an skey; no secret in any reply or log line', async (t) => {
  t.ok(published.lines.length > 10, `${published.lines.length} messages published`)
  assertNoSecrets(t, { secrets: codes, skeys: world.skeys(), logs: published, replies: world.replies })
  world.assertNoSecrets(t, codes)
})
