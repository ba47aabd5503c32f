import { test, type Test } from 'tap'
import { once } from 'node:events'
import { Redis } from 'ioredis'
import { createWechatSandbox } from '../../sandbox/wechat.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp, LogCapture } from '../helpers/app.js'
import { privateRedis } from '../helpers/redis.js'

// Every server here is a private redis-server without persistence: stopping
// it removes every key written, so no prefix of the shared Redis to clean.

/** A private redis-server this test may kill or freeze, an app with WeChat login on it, and the WeChat sandbox. */
async function privateWorld (t: Test) {
  // A client as an app would make it: ioredis defaults (offline queue, retries forever).
  const { server, redis } = await privateRedis(t)
  const wechat = await createWechatSandbox({ apps: { wx00000000000outage: 'outage-secret-0123456789' } })
  t.teardown(() => wechat.close())
  const app = await buildApp(redis, { wechat: { appId: 'wx00000000000outage', appSecret: 'outage-secret-0123456789', baseUrl: wechat.url } })
  t.teardown(() => app.close())
  return { server, wechat, redis, app }
}

test('Redis down: 503 MPA_STORE_UNAVAILABLE within the store timeout, nothing left half-done, and recovery on its own', async (t) => {
  const { server, wechat, app } = await privateWorld(t)
  const login = (code: string) => app.inject({ method: 'POST', url: '/auth/wechat/login', payload: { code } })

  const before = await app.sessions.create({ provider: 'wechat', appId: 'wx1', openId: 'o1' }, { user: { id: 'u1' } })
  t.equal((await app.inject({ url: '/me', headers: { 'x-skey': before.skey } })).statusCode, 200)

  await server.stop()
  // The cached session is served until the instance sees its connections close
  // (no one can revoke it meanwhile: Redis is down); from then on, 503.
  for (let i = 0; i < 200 && app.sessions.caching; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  t.notOk(app.sessions.caching, 'the cache turned off when Redis went away')
  const code = wechat.issueCode({ openId: 'oOutage000000000000000000001' })
  const started = Date.now()
  const replies = await Promise.all([
    app.inject({ url: '/me', headers: { 'x-skey': before.skey } }),
    app.inject({ url: '/auth/sessions', headers: { 'x-skey': before.skey } }),
    app.inject({ method: 'DELETE', url: '/auth/session', headers: { 'x-skey': before.skey } }),
    login(code)
  ])
  const elapsed = Date.now() - started
  for (const res of replies) {
    t.equal(res.statusCode, 503)
    t.same(res.json(), { statusCode: 503, code: 'MPA_STORE_UNAVAILABLE', error: 'Service Unavailable', message: 'The session store is unavailable: retry later' })
  }
  t.ok(elapsed <= 2500, `answered in ${elapsed} ms (store timeout 2 s)`)
  t.equal(wechat.calls('jscode2session'), 0, 'the login code was not spent upstream')
  await t.rejects(app.sessions.create({ provider: 'wechat', appId: 'wx1', openId: 'o1' }, { user: { id: 'u1' } }), { code: 'MPA_STORE_UNAVAILABLE' })

  await server.start() // an empty Redis (no persistence): old sessions are gone
  let recovered = false
  for (let attempt = 0; attempt < 60 && !recovered; attempt++) {
    const res = await app.inject({ url: '/me', headers: { 'x-skey': before.skey } })
    recovered = res.statusCode === 401
    if (!recovered) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.ok(recovered, 'service resumed without a restart of the app')
  const probe = new Redis({ port: server.port })
  t.teardown(() => probe.disconnect())
  t.same(await probe.keys(`${app.sessions.keyPrefix}code:*`), [], 'no login-code claim outlived the outage')

  const retry = Date.now()
  const again = await login(code)
  t.equal(again.statusCode, 200, 'the same code logs in at once after the outage')
  t.ok(Date.now() - retry < 1000, 'no leftover claim made it wait')
  t.equal((await app.inject({ url: '/me', headers: { 'x-skey': again.json().skey } })).statusCode, 200)
})

test('a Redis that hangs: 503 at the deadline, and the abandoned work does not resume when Redis does', async (t) => {
  const { server, wechat, redis, app } = await privateWorld(t)
  const code = wechat.issueCode({ openId: 'oHang0000000000000000000001' })

  // Frozen, not dead: the connection stays open, so ioredis sends every
  // command and Redis runs them all once it goes on.
  server.pause()
  const started = Date.now()
  const [login, create] = await Promise.all([
    app.inject({ method: 'POST', url: '/auth/wechat/login', payload: { code } }),
    app.sessions.create({ provider: 'wechat', appId: 'wx1', openId: 'o1' }, { user: { id: 'frozen' } }).catch((err: Error) => err)
  ])
  const elapsed = Date.now() - started
  t.equal(login.json().code, 'MPA_STORE_UNAVAILABLE')
  t.match(create, { code: 'MPA_STORE_UNAVAILABLE' })
  t.ok(elapsed >= 1900 && elapsed <= 2500, `both answered at the 2 s deadline (${elapsed} ms)`)
  server.resume()
  await redis.ping() // everything sent before has now run

  const prefix = app.sessions.keyPrefix
  t.same(await redis.keys(`${prefix}code:*`), [], 'the late login claim expired at its deadline')
  t.same(await redis.keys(`${prefix}s:*`), [], 'the abandoned create wrote no session')
  const retry = Date.now()
  const again = await app.inject({ method: 'POST', url: '/auth/wechat/login', payload: { code } })
  t.equal(again.statusCode, 200, 'the client retries the same code and logs in')
  t.ok(Date.now() - retry < 1000, `without waiting on a leftover claim (${Date.now() - retry} ms)`)
  t.same(await app.sessions.list('frozen'), [], 'the index entry the late ZADD left is no session')
})

test('a client that fails fast (no offline queue) gives the same 503', async (t) => {
  const { server, redis } = await privateRedis(t, { enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  await once(redis, 'ready')
  const app = await buildApp(redis, { session: { storeTimeout: '500ms' } })
  t.teardown(() => app.close())
  const { skey } = await app.sessions.create({ provider: 'alipay', appId: '2021', alipayUserId: '2088' }, { user: { id: 'u' } })
  await server.stop()
  const started = Date.now()
  const res = await app.inject({ url: '/me', headers: { 'x-skey': skey } })
  t.equal(res.json().code, 'MPA_STORE_UNAVAILABLE')
  t.ok(Date.now() - started < 1000, 'failed fast')
})

test('a frozen Redis under steady load: the circuit opens, then every request is refused at once; the log says so once and counts, then says when Redis is back', async (t) => {
  const { server, redis } = await privateRedis(t)
  const logs = new LogCapture()
  const app = await buildApp(redis, { logs })
  t.teardown(() => app.close())
  const skeys: string[] = []
  for (let i = 0; i < 50; i++) skeys.push((await app.sessions.create({ provider: 'wechat', appId: 'wx1', openId: `o${i}` }, { user: { id: `u${i}` } })).skey)
  // Only requests that must read Redis: the cache is emptied when its tracking connection goes silent.
  const me = (skey: string) => app.inject({ url: '/me', headers: { 'x-skey': skey } })
  const linesBefore = logs.lines.length
  const opened = () => logs.lines.slice(linesBefore).some((line) => line.includes('Redis does not answer'))

  server.pause()
  const answers: Array<{ ms: number, status: number, afterOpen: boolean }> = []
  const inFlight: Array<Promise<void>> = []
  const send = (n: number) => {
    const afterOpen = opened()
    const startedAt = performance.now()
    inFlight.push(me(skeys[n % skeys.length]!).then((reply) => { answers.push({ ms: performance.now() - startedAt, status: reply.statusCode, afterOpen }) }))
  }
  // Steady load until the circuit opens (a heartbeat, then a PING, go unanswered), then 300 requests more.
  let sent = 0
  while (!opened()) {
    for (let i = 0; i < 5; i++) send(sent++)
    await sleep(10)
  }
  for (let i = 0; i < 300; i++) {
    send(sent++)
    if (i % 10 === 0) await sleep(1)
  }
  await Promise.all(inFlight)
  const lines = logs.lines.slice(linesBefore).map((line) => JSON.parse(line) as { level: number, msg: string })
  t.same([...new Set(answers.map(({ status }) => status))], [503], `each of ${answers.length} answered 503`)
  // Once it is open nothing waits for Redis: nowhere near the 2 s store timeout.
  const late = answers.filter(({ afterOpen }) => afterOpen)
  t.equal(late.length, 300)
  const slowest = Math.max(...late.map(({ ms }) => ms))
  t.ok(slowest < 1000, `the requests sent once it was open answered without waiting for Redis (slowest ${Math.round(slowest)} ms, store timeout 2,000 ms)`)
  const loud = lines.filter(({ level }) => level >= 40)
  t.ok(loud.length <= 6, `${loud.length} lines at warn or error for ${answers.length} refused requests: ${loud.map(({ msg }) => msg).join(' | ')}`)

  server.resume()
  await waitUntil(async () => (await me(skeys[0]!)).statusCode === 200)
  t.ok(logs.lines.some((line) => /Redis answers again/.test(line)), 'and the log says when Redis is back')
})

async function waitUntil (check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await sleep(50)
}
