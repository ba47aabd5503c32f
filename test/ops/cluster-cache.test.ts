import { test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { Cluster } from 'ioredis'
import type { Identity } from '../../index.js'
import { buildApp } from '../helpers/app.js'
import { startCluster } from '../helpers/cluster.js'

// The session cache on a real Redis Cluster: tracking is per node, so every
// node (replicas too) has each instance's invalidation connection, and a
// failover (a replica promoted) must never leave an instance serving a
// revoked session, whether or not it has noticed the new topology yet.

const identity: Identity = { provider: 'wechat', appId: 'wx-cluster-cache', openId: 'o-cc' }

async function caching (app: FastifyInstance, want = true): Promise<boolean> {
  for (let i = 0; i < 500 && app.sessions.caching !== want; i++) await sleep(10)
  return app.sessions.caching === want
}

test('cache coherence across a 3-master cluster, through a failover', async (t) => {
  const cluster = await startCluster(3, 1)
  t.teardown(() => cluster.stop())
  const [firstMaster] = cluster.ports
  const replica = cluster.ports[3]!
  const clients = [0, 1].map(() => new Cluster(cluster.ports.slice(0, 3).map((port) => ({ host: '127.0.0.1', port }))))
  const [a, b] = await Promise.all(clients.map((client) => buildApp(client, { keyPrefix: 'mpa-cc:' }))) as [FastifyInstance, FastifyInstance]
  t.teardown(async () => {
    await Promise.all([a.close(), b.close()])
    clients.forEach((client) => client.disconnect())
  })
  t.ok(await caching(a) && await caching(b), 'both instances track every node')
  const trackers = (await cluster.cli(replica, 'client', 'list')).split('\n').filter((line) => line.includes('name=mpa-invalidations:'))
  t.equal(trackers.length, 2, 'the replica is tracked by both instances before any failover')
  const me = (app: FastifyInstance, skey: string) => app.inject({ url: '/me', headers: { 'x-skey': skey } })

  const sessions = []
  for (let i = 0; i < 30; i++) sessions.push(await a.sessions.create(identity, { user: { id: `cc-${i}` } }))
  const slots = new Set(await Promise.all(sessions.map(({ session }) => clients[0]!.cluster('KEYSLOT', `mpa-cc:s:${session.id}`))))
  t.ok(slots.size > 10, `sessions spread over ${slots.size} slots`)
  for (const { skey } of sessions) t.equal((await me(b, skey)).statusCode, 200)

  // Revocations on every master are seen by b on its next request.
  for (const { skey } of sessions.slice(0, 10)) {
    await a.sessions.revoke({ skey })
    t.equal((await me(b, skey)).statusCode, 401)
  }

  // A failover: the replica of the first master takes over its slots.
  await cluster.cli(replica, 'cluster', 'failover')
  // The replica reports its promotion before the old master steps down: wait for both.
  for (let attempt = 0; attempt < 200; attempt++) {
    if ((await cluster.cli(replica, 'role')).startsWith('master') && (await cluster.cli(firstMaster!, 'role')).startsWith('slave')) break
    await sleep(50)
  }
  t.match(await cluster.cli(replica, 'role'), /^master/, 'the replica is the master now')
  t.match(await cluster.cli(firstMaster!, 'role'), /^slave/)

  // Whatever each instance's view of the topology, no revoked session is
  // served once its revocation is acknowledged. A revocation the failover
  // cut short answers 503, and is retried, as a client does.
  let retried = 0
  for (const { skey } of sessions.slice(10, 20)) {
    for (;;) {
      const outcome = await a.sessions.revoke({ skey }).then(() => 'acknowledged', (err: { code?: string }) => err.code)
      if (outcome === 'acknowledged') break
      t.equal(outcome, 'MPA_STORE_UNAVAILABLE', 'a revocation that could not be acknowledged says so, retryable')
      retried++
      await sleep(50)
    }
    const res = await me(b, skey)
    if (res.statusCode !== 401) t.fail(`a revoked session answered ${res.statusCode} during the failover`)
  }
  t.pass(`10 revocations during the failover, each seen on the next request (${retried} attempts answered 503 and were retried)`)
  t.ok(await caching(b), 'b tracks the new master and caches again')
  for (const { skey } of sessions.slice(20)) t.equal((await me(b, skey)).statusCode, 200, 'live sessions still served')
  for (const { skey } of sessions.slice(20)) {
    await a.sessions.revoke({ skey })
    t.equal((await me(b, skey)).statusCode, 401, 'and revocations after it are seen too')
  }
})
