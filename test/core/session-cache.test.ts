import { test, type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import type { Identity } from '../../index.js'
import { buildApp, LogCapture, type TestAppOptions } from '../helpers/app.js'
import { commandsOn, monitorRedis } from '../helpers/monitor.js'
import { FreezableProxy } from '../helpers/proxy.js'
import { REDIS_URL, sharedRedis, testRedis, uniquePrefix } from '../helpers/redis.js'

// The session cache: a hit costs no Redis call, and Redis's invalidations
// keep every instance's copy honest: a revocation on one instance is seen by
// another on its first request after the revoking reply.

const identity: Identity = { provider: 'wechat', appId: 'wx-cache', openId: 'o-cache' }

async function caching (app: FastifyInstance): Promise<void> {
  for (let i = 0; i < 200 && !app.sessions.caching; i++) await sleep(10)
  if (!app.sessions.caching) throw new Error('the session cache did not come on')
}

/**
 * Requests until one is answered from the cache: the first read of a new
 * session can be overtaken by the invalidation of its own creation, which
 * then keeps it out of the cache. Answers how many requests it took.
 */
async function warm (app: FastifyInstance, skey: string, monitor: { settle: () => Promise<void>, commands: unknown[] }, keyPrefix: string): Promise<number> {
  for (let tries = 1; tries <= 20; tries++) {
    await monitor.settle()
    const before = commandsOn(monitor.commands as never, keyPrefix).length
    await app.inject({ url: '/me', headers: { 'x-skey': skey } })
    await monitor.settle()
    if (commandsOn(monitor.commands as never, keyPrefix).length === before) return tries
  }
  throw new Error('no request was answered from the cache')
}

/** Two instances of one app on one Redis, each with its own clients. */
async function twoInstances (t: Test, options: TestAppOptions = {}, redisOf: () => Redis = sharedRedis) {
  const { prefix: keyPrefix } = testRedis(t, 'cache')
  const clients = [redisOf(), redisOf()]
  const apps = await Promise.all(clients.map((redis) => buildApp(redis, { keyPrefix, ...options }))) as [FastifyInstance, FastifyInstance]
  t.teardown(async () => {
    await Promise.all(apps.map((app) => app.close()))
    clients.forEach((redis) => redis.disconnect())
  })
  await Promise.all(apps.map(caching))
  const me = (app: FastifyInstance, skey: string) => app.inject({ url: '/me', headers: { 'x-skey': skey } })
  return { apps, keyPrefix, me }
}

test('a cache hit costs no Redis call', async (t) => {
  const watcher = sharedRedis()
  const monitor = await monitorRedis(watcher)
  t.teardown(async () => { await monitor.stop(); watcher.disconnect() })
  // A lease no busy test machine lets lapse: this is about hits, not about a lapsed lease's misses.
  const { apps: [a], keyPrefix, me } = await twoInstances(t, { session: { cache: { lease: '5s', heartbeat: '10s' } } })
  const { skey } = await a.sessions.create(identity, { user: { id: 'u-hit' } })
  t.equal((await me(a, skey)).statusCode, 200, 'the first request reads Redis')
  t.ok(await warm(a, skey, monitor, keyPrefix) <= 3, 'and within a few requests the cache holds the session')
  await monitor.settle()
  const mark = monitor.commands.length
  for (let i = 0; i < 50; i++) t.equal((await me(a, skey)).statusCode, 200)
  await monitor.settle()
  t.same(commandsOn(monitor.commands.slice(mark), keyPrefix), [], '50 hits, 0 commands')
  t.equal((await me(a, skey)).json().user.id, 'u-hit')
})

test('every revocation on one instance is seen by the other on its first request after the reply', async (t) => {
  const { apps: [a, b], me } = await twoInstances(t, { session: { maxPerUser: 2 } })
  const kinds: Record<string, (skey: string, user: string) => Promise<unknown>> = {
    'logout (DELETE /auth/session)': (skey) => a.inject({ method: 'DELETE', url: '/auth/session', headers: { 'x-skey': skey } }),
    'logout everywhere (DELETE /auth/sessions)': (skey) => a.inject({ method: 'DELETE', url: '/auth/sessions', headers: { 'x-skey': skey } }),
    'one device (DELETE /auth/sessions/:id)': async (skey) => {
      const id = (await a.sessions.get(skey))!.id
      return a.inject({ method: 'DELETE', url: `/auth/sessions/${id}`, headers: { 'x-skey': skey } })
    },
    'cap eviction (a third login)': async (_skey, user) => {
      await a.sessions.create(identity, { user: { id: user } })
      await a.sessions.create(identity, { user: { id: user } })
    },
    'sessions.revoke()': (skey) => a.sessions.revoke(skey),
    'sessions.revokeUser()': (_skey, user) => a.sessions.revokeUser(user)
  }
  let n = 0
  for (const [kind, revoke] of Object.entries(kinds)) {
    for (let round = 0; round < 10; round++) {
      const user = `u-revoke-${n++}`
      const { skey } = await a.sessions.create(identity, { user: { id: user } })
      t.equal((await me(b, skey)).statusCode, 200)
      t.equal((await me(b, skey)).statusCode, 200) // now a hit on b
      await revoke(skey, user)
      const after = await me(b, skey)
      if (after.statusCode !== 401) t.fail(`${kind}, round ${round}: b answered ${after.statusCode}`)
    }
    t.pass(`${kind}: 10 of 10 seen on the first request`)
  }
})

test('a renewal on one instance drops the other\'s copy: one re-read per half TTL', async (t) => {
  const watcher = sharedRedis()
  const monitor = await monitorRedis(watcher)
  t.teardown(async () => { await monitor.stop(); watcher.disconnect() })
  // A lease no busy test machine lets lapse: b's hits are part of the claim.
  const { apps: [a, b], keyPrefix, me } = await twoInstances(t, { session: { ttl: '2s', maxAge: '1h', cache: { lease: '5s', heartbeat: '10s' } } })
  const { skey } = await a.sessions.create(identity, { user: { id: 'u-renew' } })
  t.equal((await me(b, skey)).statusCode, 200)
  await sleep(1100) // past half the idle TTL, with most of it left for a busy machine
  await monitor.settle()
  const mark = monitor.commands.length
  const renewed = await me(a, skey)
  t.ok(renewed.json().session.expiresAt > Date.now() + 1800, 'a renewed it')
  // The renewal is written after a's reply: b's requests wait until it has
  // landed (Redis sends b's invalidation as it runs), not for a while.
  const isRenewal = ({ args }: { args: string[] }) => args[0]?.toLowerCase() === 'setrange' && (args[1] ?? '').startsWith(keyPrefix)
  await monitor.seen(monitor.commands.filter(isRenewal).length + 1, isRenewal)
  for (let i = 0; i < 5; i++) t.equal((await me(b, skey)).statusCode, 200)
  await monitor.settle()
  const ours = commandsOn(monitor.commands.slice(mark), keyPrefix).map((args) => args[0]?.toLowerCase())
  t.same(ours.filter((name) => name === 'setrange'), ['setrange'], 'one renewal write (its expiry, in place)')
  // A read is a GET, or an MGET with the issued-before mark when a busy
  // machine let the lease lapse. b re-reads once; twice when the renewal's
  // invalidation reaches b while that re-read is out (then it must not be kept).
  const reads = ours.filter((name) => name === 'get' || name === 'mget').length
  t.ok(reads === 2 || reads === 3, `a re-read on a (the renewal), one or two on b (its copy was dropped): ${reads} reads`)
  const hits = monitor.commands.length
  for (let i = 0; i < 5; i++) t.equal((await me(b, skey)).statusCode, 200)
  await monitor.settle()
  t.same(commandsOn(monitor.commands.slice(hits), keyPrefix), [], 'then b answers from its cache again')
  t.ok((await me(b, skey)).json().session.expiresAt > Date.now() + 1600, 'b shows the renewed expiry')
})

test('the cache never serves a session past its idle expiry', async (t) => {
  const { apps: [a, b], me } = await twoInstances(t, { session: { ttl: '1500ms', maxAge: '1h' } })
  const idle = await a.sessions.create(identity, { user: { id: 'u-idle' } })
  t.equal((await me(b, idle.skey)).statusCode, 200)
  await sleep(1600)
  t.equal((await me(b, idle.skey)).statusCode, 401, 'idle past its TTL: gone, even if Redis has not told us yet')
})

test('the cache never serves a session past its absolute expiry, however much it is used', async (t) => {
  // The idle TTL is the maxAge here: what keeps the session alive until then is
  // not a renewal, whose write a loaded machine may land after a short TTL.
  // (The renewal's cap at maxAge: test/core/sessions.test.ts.)
  const { apps: [a, b], me } = await twoInstances(t, { session: { ttl: '3s', maxAge: '3s' } })
  const busy = await a.sessions.create(identity, { user: { id: 'u-busy' } })
  // maxAge counts from the session's creation, which a busy machine may answer late: the end is its own.
  const end = busy.session.absoluteExpiresAt
  for (;;) {
    const { statusCode } = await me(b, busy.skey)
    // Answered after its maxAge, either answer is right; before it, it must be alive.
    if (Date.now() >= end) break
    t.equal(statusCode, 200)
    await sleep(100)
  }
  await sleep(Math.max(0, end + 100 - Date.now()))
  t.equal((await me(b, busy.skey)).statusCode, 401, 'used all along, it still ends at maxAge')
})

test('a killed invalidation connection empties the cache; reads go to Redis until it is back', async (t) => {
  const watcher = sharedRedis()
  const monitor = await monitorRedis(watcher)
  t.teardown(async () => { await monitor.stop(); watcher.disconnect() })
  const logs = new LogCapture()
  const { apps: [a, b], keyPrefix, me } = await twoInstances(t, { logs })
  const { skey } = await a.sessions.create(identity, { user: { id: 'u-kill' } })
  t.equal((await me(b, skey)).statusCode, 200)
  const clients = await watcher.client('LIST') as string
  const ids = [...clients.matchAll(/id=(\d+) .*name=mpa-invalidations:(\S+)/g)].filter(([, , name]) => name!.startsWith(keyPrefix)).map(([, id]) => id!)
  t.equal(ids.length, 2, 'one invalidation connection per instance')
  const offBefore = logs.lines.filter((line) => line.includes('session cache off')).length
  for (const id of ids) await watcher.client('KILL', 'ID', id)
  // Each instance says its cache went off: it saw its connection close.
  for (let i = 0; i < 200 && logs.lines.filter((line) => line.includes('session cache off')).length < offBefore + 2; i++) await sleep(10)
  t.equal(logs.lines.filter((line) => line.includes('session cache off')).length - offBefore, 2, 'both instances turned their cache off')
  await monitor.settle()
  const mark = monitor.commands.length
  t.equal((await me(b, skey)).statusCode, 200)
  await monitor.settle()
  const reads = commandsOn(monitor.commands.slice(mark), keyPrefix).filter((args) => ['get', 'mget'].includes(args[0]!.toLowerCase()) && args[1]?.includes(':s:'))
  t.equal(reads.length, 1, 'the cached session was dropped: the request read Redis (whether the cache was back yet or not)')
  await caching(b)
  t.ok(b.sessions.caching, 'it comes back by itself')
  await a.sessions.revoke(skey)
  t.equal((await me(b, skey)).statusCode, 401, 'and revocations are seen again')
})

test('a frozen invalidation connection: no revocation acknowledged after the freeze is ever served from the cache', async (t) => {
  const target = new URL(REDIS_URL)
  const proxy = new FreezableProxy({ host: target.hostname, port: Number(target.port || 6379) })
  await proxy.start()
  t.teardown(() => proxy.close())
  // b reaches Redis through the proxy: its data connection and its invalidation connection.
  let nth = 0
  const { apps: [a, b], me } = await twoInstances(t, { session: { cache: { heartbeat: '2s' } } },
    () => nth++ === 0 ? sharedRedis() : new Redis({ host: '127.0.0.1', port: proxy.port }))
  for (let round = 0; round < 20; round++) {
    const { skey } = await a.sessions.create(identity, { user: { id: `u-frozen-${round}` } })
    await caching(b)
    for (let i = 0; i < 3; i++) t.equal((await me(b, skey)).statusCode, 200) // cached on b by now
    proxy.freezeTracking()
    // At once, well within the heartbeat: b still holds the session, and its invalidation never arrives.
    await a.sessions.revoke({ skey })
    const after = await me(b, skey)
    t.equal(after.json().code, 'MPA_SESSION_REVOKED', `round ${round}: the acknowledged revocation is seen on b (its cache's lease ran out)`)
    proxy.thawTracking()
  }
  const other = await a.sessions.create(identity, { user: { id: 'u-frozen-other' } })
  proxy.freezeTracking()
  t.equal((await me(b, other.skey)).statusCode, 200, 'and b still serves live sessions, from Redis')
})

test('session.cache: false reads Redis every time; options are checked', async (t) => {
  const { apps: [a], me } = await twoInstances(t, { session: { cache: false } }).catch(() => ({ apps: [] as FastifyInstance[], me: null }))
  t.equal(a, undefined, 'twoInstances waits for the cache, which never comes on')
  const redis = sharedRedis()
  t.teardown(() => redis.disconnect())
  const off = await buildApp(redis, { keyPrefix: uniquePrefix('cache-off'), session: { cache: false } })
  t.teardown(() => off.close())
  await sleep(100)
  t.equal(off.sessions.caching, false)
  t.equal(me, null)
  for (const [cache, message] of [
    [{ max: 0 }, /session\.cache\.max/], [{ maxBytes: -1 }, /session\.cache\.maxBytes/], [{ heartbeat: 'often' }, /session\.cache\.heartbeat/],
    [{ lease: 'short' }, /session\.cache\.lease/], [{ lease: '2s', heartbeat: '1s' }, /session\.cache\.heartbeat must not be shorter/], [true, /session\.cache must be false or/]
  ] as const) {
    await t.rejects(buildApp(redis, { session: { cache: cache as never } }), message)
  }
})
