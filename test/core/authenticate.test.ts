import { test } from 'tap'
import { request as httpRequest } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import type { Identity } from '../../index.js'
import { buildApp, LogCapture } from '../helpers/app.js'
import { commandsOn, monitorRedis } from '../helpers/monitor.js'
import { sharedRedis, testRedis } from '../helpers/redis.js'
import { socketWrites } from '../helpers/socket-writes.js'

const identity: Identity = { provider: 'wechat', appId: 'wx4f4bc4dec97d474b', openId: 'oGZUI0egBJY1zhBYw2KhdUfwVJJE' }
const SESSION_KEY = 'tiihtNczf5v6AKRyjwEUhQ=='

async function login (app: FastifyInstance, userId = 'u1', device?: string) {
  return app.sessions.create(identity, { user: { id: userId, nickName: '小明 🐱' }, secrets: { sessionKey: SESSION_KEY }, ...(device ? { device } : {}) })
}

test('authenticate resolves the skey header and Bearer to request.user', async (t) => {
  const { redis, prefix } = testRedis(t, 'auth')
  const app = await buildApp(redis, { keyPrefix: prefix })
  t.teardown(() => app.close())
  const { skey } = await login(app)

  for (const headers of [{ 'x-skey': skey }, { authorization: `Bearer ${skey}` }, { authorization: `bearer  ${skey} ` }]) {
    const res = await app.inject({ url: '/me', headers })
    t.equal(res.statusCode, 200, JSON.stringify(Object.keys(headers)))
    t.same(res.json().user, { id: 'u1', nickName: '小明 🐱' }, 'emoji survive')
    t.notOk(res.body.includes(SESSION_KEY), 'request.session serialises without its secrets')
  }
  const res = await app.inject({ url: '/me', headers: { 'x-skey': skey, authorization: 'Bearer ' + 'A'.repeat(43) } })
  t.equal(res.statusCode, 200, 'the skey header wins over Authorization')
})

test('authenticate as a preHandler and awaited by the app: the same answers, cache hit or miss', async (t) => {
  // On, with a lease no busy test machine lets lapse: this is about hits, not about a lapsed lease's misses.
  for (const cache of [{ lease: '5s', heartbeat: '10s' }, false] as const) {
    await t.test(`session.cache ${cache === false ? 'false' : 'on'}`, async (t) => {
      const { redis, prefix } = testRedis(t, 'styles')
      const app = await buildApp(redis, { keyPrefix: prefix, session: { cache } }, (app) => {
        // An app's own hook that calls it (the promise form), then adds its rule.
        app.get('/awaited', {
          preHandler: async (request) => {
            await app.authenticate(request)
            if (request.user.id === 'banned') throw Object.assign(new Error('banned'), { statusCode: 403 })
          }
        }, async (request) => ({ user: request.user }))
      })
      t.teardown(() => app.close())
      const monitor = await monitorRedis(redis)
      t.teardown(() => monitor.stop())
      if (cache !== false) {
        app.sessions.open()
        for (let i = 0; i < 500 && !app.sessions.caching; i++) await sleep(10)
        t.ok(app.sessions.caching, 'the cache is on')
      }
      const { skey } = await login(app)
      const banned = await login(app, 'banned')
      for (const url of ['/me', '/awaited']) {
        // The first read fills the cache (a miss), the second is a hit when it is on: no Redis command.
        for (const read of ['first', 'second']) {
          await monitor.settle()
          const before = commandsOn(monitor.commands, prefix).length
          const res = await app.inject({ url, headers: { 'x-skey': skey } })
          await monitor.settle()
          const commands = commandsOn(monitor.commands, prefix).length - before
          t.equal(res.statusCode, 200, `${url}, ${read} read`)
          t.equal(res.json().user.id, 'u1', `${url}, ${read} read`)
          if (cache !== false && (url === '/awaited' || read === 'second')) t.equal(commands, 0, `${url}, ${read} read: a hit, no Redis command`)
          else t.ok(commands > 0, `${url}, ${read} read: from Redis`)
        }
        t.equal((await app.inject({ url })).json().code, 'MPA_SKEY_MISSING', `${url}: no skey`)
        t.equal((await app.inject({ url, headers: { 'x-skey': 'short' } })).json().code, 'MPA_SKEY_MALFORMED', `${url}: malformed`)
        t.equal((await app.inject({ url, headers: { 'x-skey': 'A'.repeat(43) } })).json().code, 'MPA_SESSION_EXPIRED', `${url}: unknown`)
      }
      t.equal((await app.inject({ url: '/awaited', headers: { 'x-skey': banned.skey } })).statusCode, 403, 'the app\'s rule runs after it')
      await app.sessions.revoke(skey)
      for (const url of ['/me', '/awaited']) {
        t.equal((await app.inject({ url, headers: { 'x-skey': skey } })).json().code, 'MPA_SESSION_REVOKED', `${url}: revoked, and said so`)
      }
    })
  }
})

test('the reads of requests in one turn of the event loop leave in one socket write', async (t) => {
  const { redis, prefix } = testRedis(t, 'batched')
  const app = await buildApp(redis, { keyPrefix: prefix, session: { cache: false } })
  t.teardown(() => app.close())
  const skeys = await Promise.all(['u1', 'u2', 'u3', 'u4', 'u5'].map(async (id) => (await login(app, id)).skey))
  const writes = await socketWrites(t, redis)
  const replies = await Promise.all(skeys.map((skey) => app.inject({ url: '/me', headers: { 'x-skey': skey } })))
  t.same(replies.map((reply) => reply.json().user.id), ['u1', 'u2', 'u3', 'u4', 'u5'])
  t.same(writes, [['mget', 'mget', 'mget', 'mget', 'mget']], 'five requests, one write of their five reads')
})

test('a custom header name', async (t) => {
  const { redis, prefix } = testRedis(t, 'hdr')
  const app = await buildApp(redis, { keyPrefix: prefix, session: { header: 'X-Session-Token' } })
  t.teardown(() => app.close())
  const { skey } = await login(app)
  t.equal((await app.inject({ url: '/me', headers: { 'x-session-token': skey } })).statusCode, 200)
  const missing = await app.inject({ url: '/me', headers: { 'x-skey': skey } })
  t.equal(missing.json().code, 'MPA_SKEY_MISSING')
  t.match(missing.json().message, /x-session-token/)
})

test('every malformed skey is a 401 before any Redis command', async (t) => {
  const { redis, prefix } = testRedis(t, 'malformed')
  const watcher = sharedRedis(t)
  // The cache reads the issued-before mark again whenever its lease lapses,
  // from the app's client: a lease no busy machine lets lapse keeps those
  // background reads out of the count.
  const app = await buildApp(redis, { keyPrefix: prefix, session: { cache: { lease: '5s', heartbeat: '10s' } } })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const monitor = await monitorRedis(watcher)
  t.teardown(() => monitor.stop())
  await redis.ping()
  const appClient = `127.0.0.1:${(redis as Redis & { stream: { localPort: number } }).stream.localPort}`
  const { skey } = await login(app)
  await monitor.settle()
  const before = monitor.commands.length

  const cases: Array<[string, Record<string, string>, string]> = [
    ['no header', {}, 'MPA_SKEY_MISSING'],
    ['empty header', { 'x-skey': '' }, 'MPA_SKEY_MISSING'],
    ['one character short', { 'x-skey': skey.slice(1) }, 'MPA_SKEY_MALFORMED'],
    ['one character long', { 'x-skey': skey + 'A' }, 'MPA_SKEY_MALFORMED'],
    ['standard base64 alphabet', { 'x-skey': skey.slice(0, 41) + '+/' }, 'MPA_SKEY_MALFORMED'],
    ['padding', { 'x-skey': skey.slice(0, 42) + '=' }, 'MPA_SKEY_MALFORMED'],
    ['spaces inside', { 'x-skey': skey.slice(0, 20) + ' ' + skey.slice(21) }, 'MPA_SKEY_MALFORMED'],
    ['10 KB header', { 'x-skey': 'a'.repeat(10 * 1024) }, 'MPA_SKEY_MALFORMED'],
    ['Bearer without a token', { authorization: 'Bearer' }, 'MPA_SKEY_MALFORMED'],
    ['Basic credentials', { authorization: 'Basic dXNlcjpwYXNz' }, 'MPA_SKEY_MALFORMED'],
    ['Bearer with two tokens', { authorization: `Bearer ${skey} ${skey}` }, 'MPA_SKEY_MALFORMED'],
    ['an sha256 session id instead of the skey', { 'x-skey': 'x'.repeat(22) }, 'MPA_SKEY_MALFORMED'],
    ['two skey headers joined', { 'x-skey': `${skey}, ${skey}` }, 'MPA_SKEY_MALFORMED']
  ]
  for (const [name, headers, code] of cases) {
    const res = await app.inject({ url: '/me', headers })
    t.equal(res.statusCode, 401, name)
    t.equal(res.json().code, code, name)
    t.same(Object.keys(res.json()).sort(), ['code', 'error', 'message', 'statusCode'], `${name}: the documented error shape`)
  }

  // Non-ASCII bytes can only arrive over a real socket (inject would refuse them).
  const nonAscii = await new Promise<{ status: number, body: string }>((resolve, reject) => {
    const { port } = app.server.address() as { port: number }
    const req = httpRequest({ port, path: '/me', headers: { 'x-skey': Buffer.from('秘'.repeat(14) + 'a', 'utf8').toString('latin1') } }, (res) => {
      let body = ''
      res.on('data', (chunk) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode!, body }))
    })
    req.on('error', reject)
    req.end()
  })
  t.equal(nonAscii.status, 401, 'non-ASCII header')
  t.equal(JSON.parse(nonAscii.body).code, 'MPA_SKEY_MALFORMED')

  await monitor.settle()
  const fromApp = monitor.commands.slice(before).filter((c) => c.source === appClient)
  t.same(fromApp, [], 'the app sent Redis nothing for malformed skeys')

  // With the cache's lease running, the issued-before mark is known: one GET, nothing beside it.
  for (let i = 0; i < 500 && !app.sessions.caching; i++) await sleep(10)
  const unknown = await app.inject({ url: '/me', headers: { 'x-skey': 'A'.repeat(43) } })
  t.equal(unknown.json().code, 'MPA_SESSION_EXPIRED', 'a well-formed unknown skey costs one lookup')
  await monitor.settle()
  const lookup = monitor.commands.slice(before).filter((c) => c.source === appClient).map((c) => c.args[0]?.toLowerCase())
  t.same(lookup, ['get'], 'the monitor does see the app client: one GET')
})

test('session routes: the current session, devices, logout one, logout all', async (t) => {
  const { redis, prefix } = testRedis(t, 'routes')
  const app = await buildApp(redis, { keyPrefix: prefix })
  t.teardown(() => app.close())
  // A few ms apart: the device list is ordered by creation time, in ms.
  const phone = await login(app, 'u1', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) MicroMessenger/8.0.44')
  await sleep(3)
  const tablet = await login(app, 'u1', 'Mozilla/5.0 (Linux; Android 14; 23116PN5BC) MicroMessenger/8.0.44')
  await sleep(3)
  const laptop = await login(app, 'u1')
  const stranger = await login(app, 'u2')

  const current = await app.inject({ url: '/auth/session', headers: { 'x-skey': phone.skey } })
  t.equal(current.statusCode, 200)
  const body = current.json()
  t.same(body.user, { id: 'u1', nickName: '小明 🐱' })
  t.equal(body.session.id, phone.session.id)
  t.equal(body.session.provider, 'wechat')
  t.equal(body.session.device, 'iPhone; CPU iPhone OS 17_0 like Mac OS X')
  t.ok(body.session.createdAt <= Date.now() && body.session.expiresAt > Date.now() && body.session.absoluteExpiresAt >= body.session.expiresAt)
  t.notOk(current.body.includes(SESSION_KEY), 'no session_key in the reply')
  t.notOk(current.body.includes(phone.skey), 'no skey in the reply')

  const devices = await app.inject({ url: '/auth/sessions', headers: { 'x-skey': tablet.skey } })
  const listed = devices.json().sessions as Array<{ id: string, current: boolean }>
  t.same(listed.map((s) => s.id), [laptop, tablet, phone].map((s) => s.session.id), 'newest first')
  t.same(listed.map((s) => s.current), [false, true, false])
  t.notOk(devices.body.includes(SESSION_KEY))

  const revokeOther = await app.inject({ method: 'DELETE', url: `/auth/sessions/${laptop.session.id}`, headers: { 'x-skey': tablet.skey } })
  t.equal(revokeOther.statusCode, 204)
  t.equal((await app.inject({ url: '/me', headers: { 'x-skey': laptop.skey } })).json().code, 'MPA_SESSION_REVOKED')
  const notMine = await app.inject({ method: 'DELETE', url: `/auth/sessions/${stranger.session.id}`, headers: { 'x-skey': tablet.skey } })
  t.equal(notMine.statusCode, 404)
  t.equal(notMine.json().code, 'MPA_SESSION_NOT_FOUND')
  t.equal((await app.inject({ url: '/me', headers: { 'x-skey': stranger.skey } })).statusCode, 200, "another user's session survives")
  const badId = await app.inject({ method: 'DELETE', url: '/auth/sessions/not-an-id', headers: { 'x-skey': tablet.skey } })
  t.equal(badId.statusCode, 400)

  const logout = await app.inject({ method: 'DELETE', url: '/auth/session', headers: { 'x-skey': phone.skey } })
  t.equal(logout.statusCode, 204)
  t.equal(logout.body, '')
  t.equal((await app.inject({ url: '/auth/session', headers: { 'x-skey': phone.skey } })).statusCode, 401)

  const all = await app.inject({ method: 'DELETE', url: '/auth/sessions', headers: { 'x-skey': tablet.skey } })
  t.same(all.json(), { revoked: 1 })
  t.equal((await app.inject({ url: '/me', headers: { 'x-skey': tablet.skey } })).statusCode, 401)

  const unauth = await app.inject({ url: '/auth/sessions' })
  t.equal(unauth.statusCode, 401)
})

test('revocation is seen by another app instance on its very next request', async (t) => {
  const { redis: redisA, prefix: keyPrefix } = testRedis(t, 'instances')
  const redisB = sharedRedis(t)
  const a = await buildApp(redisA, { keyPrefix })
  const b = await buildApp(redisB, { keyPrefix })
  t.teardown(async () => { await a.close(); await b.close() })

  const one = await login(a)
  const two = await login(a)
  const three = await login(b)
  for (const { skey } of [one, two, three]) {
    t.equal((await b.inject({ url: '/me', headers: { 'x-skey': skey } })).statusCode, 200, 'B sees what A created')
  }
  t.equal((await a.inject({ method: 'DELETE', url: '/auth/session', headers: { 'x-skey': one.skey } })).statusCode, 204)
  t.equal((await b.inject({ url: '/me', headers: { 'x-skey': one.skey } })).json().code, 'MPA_SESSION_REVOKED', 'logout on A, rejected on B')
  t.equal((await b.inject({ method: 'DELETE', url: '/auth/sessions', headers: { 'x-skey': three.skey } })).json().revoked, 2)
  t.equal((await a.inject({ url: '/me', headers: { 'x-skey': two.skey } })).statusCode, 401, 'logout-all on B, rejected on A')
})

test('no skey or secret reaches a log line, even with headers logged at trace level', async (t) => {
  const { redis, prefix } = testRedis(t, 'logs')
  const logs = new LogCapture()
  const app = await buildApp(redis, { keyPrefix: prefix, logs })
  t.teardown(() => app.close())
  const { skey } = await login(app)
  await app.inject({ url: '/me', headers: { 'x-skey': skey } })
  await app.inject({ url: '/auth/sessions', headers: { authorization: `Bearer ${skey}` } })
  await app.inject({ url: '/me', headers: { 'x-skey': skey.slice(1) } })
  await app.inject({ method: 'DELETE', url: '/auth/session', headers: { 'x-skey': skey } })
  await app.inject({ url: '/me', headers: { 'x-skey': skey } })
  t.ok(logs.lines.length >= 10, `captured ${logs.lines.length} log lines`)
  t.match(logs.text, /"x-skey":"\[Redacted\]"/, 'the header was logged, redacted')
  t.notOk(logs.text.includes(skey), 'no skey in any log line')
  t.notOk(logs.text.includes(skey.slice(1)), 'no malformed skey either')
  t.notOk(logs.text.includes(SESSION_KEY), 'no session_key in any log line')
})
