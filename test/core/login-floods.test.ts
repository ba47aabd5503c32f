import { test, type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { MiniprogramAuthOptions } from '../../index.js'
import { buildApp, LogCapture } from '../helpers/app.js'
import { PlatformsWorld, startPlatforms } from '../helpers/platforms.js'
import { privateRedis, sharedRedis } from '../helpers/redis.js'

// One client sending random codes, or one code many times, costs the
// platform as little as it can: a rate limit per client shared by every
// instance, refused codes remembered, concurrent posts of a code sharing one
// exchange and its failure, and bounded bodies.

const WECHAT = { appId: 'wx000000000000flood', appSecret: 'flood-secret-0123456789' }

/** Both platforms and two instances of the app on one prefix. */
async function world (t: Test, options: MiniprogramAuthOptions = {}) {
  const world = await PlatformsWorld.create(t, 'flood', WECHAT, '2021000000flood01')
  const apps = [await world.build(options), await world.build(options)] as [FastifyInstance, FastifyInstance]
  const post = (app: FastifyInstance, code: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/auth/wechat/login', payload: { code }, headers })
  return { apps, post, wechat: world.wechat }
}

test('the login rate limit: per client, shared by every instance, 429 MPA_RATE_LIMITED with Retry-After', async (t) => {
  const { apps: [a, b], post, wechat } = await world(t, { rateLimit: { max: 3, timeWindow: '1m' } })
  const answers = [await post(a, 'random-1'), await post(b, 'random-2'), await post(a, 'random-3')]
  t.same(answers.map((res) => res.statusCode), [401, 401, 401], 'three refused codes, each asked upstream')
  t.equal(wechat.calls('jscode2session'), 3)
  const limited = await post(b, 'random-4')
  t.equal(limited.statusCode, 429, 'the fourth, on the other instance')
  t.equal(limited.json().code, 'MPA_RATE_LIMITED')
  t.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60, 'Retry-After in seconds')
  t.equal(wechat.calls('jscode2session'), 3, 'and the platform was not asked')
  const other = await post(a, 'random-5', { 'x-forwarded-for': '203.0.113.9' })
  t.equal(other.statusCode, 429, 'without trustProxy, X-Forwarded-For does not make another client')
  t.equal((await a.inject({ url: '/auth/session' })).statusCode, 401, 'routes other than the logins are not limited')
})

test('the default limit and a custom keyGenerator; false turns it off', async (t) => {
  const { apps: [a], post } = await world(t)
  const statuses = new Set<number>()
  for (let i = 0; i < 100; i++) statuses.add((await a.inject({ method: 'POST', url: '/auth/wechat/login', payload: {} })).statusCode)
  t.same([...statuses], [400], '100 posts a minute pass the default limit')
  t.equal((await post(a, 'one-more')).statusCode, 429, 'the 101st does not')

  const keyed = await world(t, { rateLimit: { max: 1, keyGenerator: (request) => String(request.headers['x-device']) } })
  t.equal((await keyed.post(keyed.apps[0], 'k1', { 'x-device': 'one' })).statusCode, 401)
  t.equal((await keyed.post(keyed.apps[0], 'k2', { 'x-device': 'two' })).statusCode, 401, 'another key, another count')
  t.equal((await keyed.post(keyed.apps[1], 'k3', { 'x-device': 'one' })).statusCode, 429)

  const off = await world(t, { rateLimit: false })
  for (let i = 0; i < 105; i++) await off.apps[0].inject({ method: 'POST', url: '/auth/wechat/login', payload: {} })
  t.equal((await off.post(off.apps[0], 'unlimited')).statusCode, 401, 'no limit at all')
})

test('rate limit options are checked at register time, naming the option', async (t) => {
  const redis = sharedRedis(t)
  const cases: Array<[unknown, RegExp]> = [
    [{ max: 0 }, /rateLimit\.max must be a positive integer/],
    [{ max: 1.5 }, /rateLimit\.max/],
    [{ timeWindow: 'soon' }, /rateLimit\.timeWindow/],
    [{ timeWindow: 0 }, /rateLimit\.timeWindow must be a positive number of milliseconds/],
    [{ timeWindow: -60000 }, /rateLimit\.timeWindow/],
    [{ timeWindow: '-1m' }, /rateLimit\.timeWindow/],
    [{ timeWindow: Number.NaN }, /rateLimit\.timeWindow/],
    [{ timeWindow: {} }, /rateLimit\.timeWindow/],
    [{ keyGenerator: 'ip' }, /rateLimit\.keyGenerator must be a function/],
    [true, /rateLimit must be false or \{ max, timeWindow, keyGenerator \}/]
  ]
  for (const [rateLimit, message] of cases) {
    await t.rejects(buildApp(redis, { wechat: { ...WECHAT }, rateLimit: rateLimit as never }), message, JSON.stringify(rateLimit))
  }
})

test('rateLimit.timeWindow speaks @fastify/rate-limit\'s dialect: a number is milliseconds, its strings, a function', async (t) => {
  for (const [timeWindow, seconds] of [[90_000, 90], ['1 minute', 60], ['2 mins', 120], ['1.5h', 5400], [() => 30_000, 30]] as const) {
    const { apps: [a], post } = await world(t, { rateLimit: { max: 1, timeWindow } })
    await post(a, 'window-1')
    const limited = await post(a, 'window-2')
    t.equal(limited.statusCode, 429, String(timeWindow))
    const retryAfter = Number(limited.headers['retry-after'])
    t.ok(retryAfter > seconds - 5 && retryAfter <= seconds, `${String(timeWindow)}: a window of ${seconds} s (Retry-After ${retryAfter})`)
  }
  const logs = new LogCapture()
  const app = await buildApp(sharedRedis(t), { logs, wechat: { ...WECHAT }, rateLimit: { timeWindow: 60 } })
  t.teardown(() => app.close())
  t.match(logs.text, /rateLimit\.timeWindow is 60 ms: it is read as @fastify\/rate-limit reads it, a number in milliseconds/, 'a window in seconds by the old reading is pointed out')
})

test('a refused code is remembered for the replay window: the same 401 on every instance, no upstream call', async (t) => {
  const { apps: [a, b], post, wechat } = await world(t, { rateLimit: false })
  const first = await post(a, 'never-issued')
  t.equal(first.statusCode, 401)
  t.equal(first.json().code, 'MPA_CODE_INVALID')
  const again = await Promise.all([post(a, 'never-issued'), post(b, 'never-issued')])
  t.same(again.map((res) => res.json()), [first.json(), first.json()], 'the same answer')
  t.equal(wechat.calls('jscode2session'), 1, 'one upstream call in all')

  const code = wechat.issueCode({ openId: 'oFlood000000000000000000001' })
  t.equal((await post(a, code)).statusCode, 200)
  wechat.issueCode({ openId: 'oFlood000000000000000000001' })
  const used = await post(b, code)
  t.equal(used.statusCode, 200, 'a used code within the window is the replay of its login, not a refusal')
})

test('fifty concurrent posts of one invalid code: one upstream call, fifty 401s', async (t) => {
  const { apps: [a, b], post, wechat } = await world(t, { rateLimit: false })
  wechat.fail('jscode2session', { errcode: 40029, delayMs: 150 })
  const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => post(i % 2 ? a : b, 'spent-code')))
  t.same([...new Set(replies.map((res) => res.statusCode))], [401])
  t.same([...new Set(replies.map((res) => res.json().code))], ['MPA_CODE_INVALID'])
  t.equal(wechat.calls('jscode2session'), 1)
})

test('a transient failure goes to the posts that waited for it, and is not remembered', async (t) => {
  const { apps: [a, b], post, wechat } = await world(t, { rateLimit: false })
  wechat.fail('jscode2session', { httpStatus: 502, delayMs: 150 })
  const code = wechat.issueCode({ openId: 'oFlood000000000000000000002' })
  const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => post(i % 2 ? a : b, code)))
  t.same([...new Set(replies.map((res) => res.statusCode))], [502], 'every waiting post gets the failure')
  t.equal(wechat.calls('jscode2session'), 1, 'not a second upstream call with a spent code')
  const retry = await post(a, code)
  t.equal(retry.statusCode, 200, 'a retry after the failure exchanges again')
  t.equal(wechat.calls('jscode2session'), 2)
})

test('bodies beyond 32 KiB: 413 on every route, before any work', async (t) => {
  const { apps: [a], wechat } = await world(t, { rateLimit: false })
  const nested = JSON.stringify({ code: 'x', filler: Array.from({ length: 60_000 }, () => [[1]]) })
  t.ok(nested.length > 300_000)
  for (const [method, url] of [['POST', '/auth/wechat/login'], ['POST', '/auth/alipay/login'], ['POST', '/auth/wechat/phone'], ['DELETE', '/auth/session']] as const) {
    const res = await a.inject({ method, url, payload: nested, headers: { 'content-type': 'application/json' } })
    t.equal(res.statusCode, 413, `${method} ${url}`)
    t.equal(res.json().code, 'FST_ERR_CTP_BODY_TOO_LARGE')
  }
  const near = JSON.stringify({ code: 'y'.repeat(20_000) })
  t.equal((await a.inject({ method: 'POST', url: '/auth/wechat/login', payload: near, headers: { 'content-type': 'application/json' } })).statusCode, 400, '20 KiB is read (and refused by the schema)')
  t.equal(wechat.calls('jscode2session'), 0)
})

test('the rate limit with Redis frozen: 503 at the store deadline, not a hang', async (t) => {
  // A private redis-server, stopped at the end with all it holds: no prefix to clean.
  const { server, redis } = await privateRedis(t, { maxRetriesPerRequest: null })
  const platforms = await startPlatforms(WECHAT, '2021000000flood02')
  t.teardown(() => platforms.close())
  const app = await buildApp(redis, { session: { storeTimeout: '300ms' }, ...platforms.options })
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'POST', url: '/auth/wechat/login', payload: { code: 'before' } })).statusCode, 401)
  server.pause()
  const started = Date.now()
  const res = await app.inject({ method: 'POST', url: '/auth/wechat/login', payload: { code: 'frozen' } })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'MPA_STORE_UNAVAILABLE')
  t.ok(Date.now() - started < 2000, 'within the store deadline')
  t.equal(platforms.wechat.calls('jscode2session'), 1, 'the frozen one never reached the platform')
})
