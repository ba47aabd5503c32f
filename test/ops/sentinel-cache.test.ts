import { test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import type { Identity } from '../../index.js'
import { buildApp } from '../helpers/app.js'
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
