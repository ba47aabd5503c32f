import { test } from 'tap'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { Redis, type RedisOptions } from 'ioredis'
import type { Identity } from '../../index.js'
import { failoverDetectorMayEnd } from '../../store/redis-nodes.js'
import { buildApp, LogCapture } from '../helpers/app.js'
import { uniquePrefix } from '../helpers/redis.js'
import { startSentinel } from '../helpers/sentinel.js'

// The session cache on a Sentinel set-up, without a failover (test/failover
// has those): each instance tracks every node the sentinels name, the master
// and its replica, and a logout on one is refused by the other at once.

const identity: Identity = { provider: 'wechat', appId: 'wx-sentinel-cache', openId: 'o-sentinel-cache' }

test('two instances on ioredis\'s Sentinel configuration: both nodes tracked, a logout seen at once', async (t) => {
  const sentinel = await startSentinel()
  t.teardown(() => sentinel.stop())
  const keyPrefix = uniquePrefix('sentinel-cache')
  const [a, b] = await Promise.all([1, 2].map(() => buildApp(sentinel.client(), { keyPrefix }))) as [FastifyInstance, FastifyInstance]
  t.teardown(() => Promise.all([a.close(), b.close()]))
  for (let i = 0; i < 500 && !(a.sessions.caching && b.sessions.caching); i++) await sleep(10)
  t.ok(a.sessions.caching && b.sessions.caching, 'both caches came on')
  for (const node of [sentinel.master.port, sentinel.replica.port]) {
    const trackers = (await sentinel.cli(node, 'client', 'list')).split('\n').filter((line) => line.includes('name=mpa-invalidations'))
    t.equal(trackers.length, 2, `port ${node}: one tracking connection per instance`)
  }
  const { skey } = await a.sessions.create(identity, { user: { id: 'u-sentinel-cache' } })
  const me = (app: FastifyInstance) => app.inject({ url: '/me', headers: { 'x-skey': skey } })
  for (let i = 0; i < 3; i++) t.equal((await me(b)).statusCode, 200)
  t.equal((await a.inject({ method: 'DELETE', url: '/auth/session', headers: { 'x-skey': skey } })).statusCode, 204)
  t.equal((await me(b)).json().code, 'MPA_SESSION_REVOKED', 'B refuses it on its first request after the 204')
})

test('ioredis\'s failoverDetector before 6.1.0, which a failover can leave ended for good: warned of at start, once', async (t) => {
  const sentinel = await startSentinel()
  t.teardown(() => sentinel.stop())
  const logs = new LogCapture()
  // sentinel.client() sets failoverDetector: true, as docs/operations.md suggests on ioredis 6.1.0 and later.
  const client = sentinel.client()
  const app = await buildApp(client, { keyPrefix: uniquePrefix('sentinel-detector'), logs })
  t.teardown(() => app.close())
  // Which versions warn is asserted below; here, that the plugin says it once when they do (ioredis 5 in CI's ioredis-5 run).
  const installed = (createRequire(import.meta.url)('ioredis/package.json') as { version: string }).version
  const warnings = logs.lines.filter((line) => line.includes('failoverDetector before ioredis 6.1.0')).length
  t.equal(warnings, failoverDetectorMayEnd(client, installed) ? 1 : 0, `ioredis ${installed}: ${warnings} warning(s)`)
  t.equal(failoverDetectorMayEnd(client), failoverDetectorMayEnd(client, installed), 'the version the plugin finds is the installed one')

  // Which clients and versions: the options as the app gave them (never connected).
  const clientOf = (options: RedisOptions) => {
    const client = new Redis({ lazyConnect: true, ...options })
    t.teardown(() => client.disconnect())
    return client
  }
  const detecting = clientOf({ sentinels: sentinel.sentinels, name: 'mpa-master', failoverDetector: true })
  t.ok(failoverDetectorMayEnd(detecting, '5.11.1'))
  t.ok(failoverDetectorMayEnd(detecting, '6.0.0'))
  t.notOk(failoverDetectorMayEnd(detecting, '6.1.0'))
  t.notOk(failoverDetectorMayEnd(detecting, '7.0.0'))
  t.notOk(failoverDetectorMayEnd(clientOf({ sentinels: sentinel.sentinels, name: 'mpa-master' }), '6.0.0'), 'no detector, no hazard')
  t.notOk(failoverDetectorMayEnd(clientOf({ port: sentinel.master.port, failoverDetector: true }), '6.0.0'), 'not a Sentinel client')
})

test('a client left on a node that became a replica: the first READONLY reconnects it, and it follows the sentinels', async (t) => {
  const sentinel = await startSentinel()
  t.teardown(() => sentinel.stop())
  const { master, replica } = sentinel
  const client = sentinel.client()
  const app = await buildApp(client, { keyPrefix: uniquePrefix('sentinel-readonly') })
  t.teardown(() => app.close())
  const [first, { skey }] = [await app.sessions.create(identity, { user: { id: 'u-readonly-1' } }), await app.sessions.create(identity, { user: { id: 'u-readonly-2' } })]
  // A logout before: the store's own connection for revocations is open, on the master of then.
  t.equal((await app.inject({ method: 'DELETE', url: '/auth/session', headers: { 'x-skey': first.skey } })).statusCode, 204)

  // The roles swap behind the client's back, as when a crashed master restarts on its port and
  // Sentinel makes it a replica after a client reconnected to it: the client stays on the old node.
  await sentinel.cli(replica.port, 'replicaof', 'no', 'one')
  await sentinel.cli(master.port, 'replicaof', '127.0.0.1', String(replica.port))
  for (const { port } of sentinel.sentinels) {
    await sentinel.cli(port, 'sentinel', 'remove', 'mpa-master')
    await sentinel.cli(port, 'sentinel', 'monitor', 'mpa-master', '127.0.0.1', String(replica.port), '2')
  }
  t.equal(client.stream?.remotePort, master.port, 'the client is still on the node that is a replica now')
  t.equal(client.status, 'ready')

  // A logout writes: READONLY on the old node, a 503, and the client reconnects to the master the sentinels name.
  const since = Date.now()
  let refused = 0
  for (;;) {
    const reply = await app.inject({ method: 'DELETE', url: '/auth/session', headers: { 'x-skey': skey } })
    if (reply.statusCode === 204 || reply.json().code === 'MPA_SESSION_REVOKED') break
    t.equal(reply.statusCode, 503, `a logout refused while the client moves: ${reply.body}`)
    refused++
    if (Date.now() - since > 30_000) throw new Error(`the logout was refused for 30 s (${refused} 503s): ${sentinel.clientStates()}`)
    await sleep(100)
  }
  t.comment(`${refused} logout attempts answered 503 while the client moved`)
  t.equal(client.stream?.remotePort, replica.port, 'the client now writes to the new master')
  t.equal((await app.inject({ url: '/me', headers: { 'x-skey': skey } })).json().code, 'MPA_SESSION_REVOKED', 'and the session is over')
  t.ok(await app.sessions.create(identity, { user: { id: 'u-readonly-3' } }), 'a login writes again')
})
