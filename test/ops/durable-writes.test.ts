import { test, type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import type { Identity } from '../../index.js'
import { sessionIdOf } from '../../lib/skey.js'
import { buildApp, type TestAppOptions } from '../helpers/app.js'
import { freePort, privateRedis, RedisProcess } from '../helpers/redis.js'

// Revocations are acknowledged only once a replica has them (WAIT), on a
// real master and replica: a frozen replica, a WAIT cut short by a killed
// connection, a retry after a 503, each is refused until the tombstone is on
// the replica, never acknowledged while a failover could still take it back.

const identity: Identity = { provider: 'wechat', appId: 'wx-durable', openId: 'o-durable' }
const keyPrefix = 'durable:'

async function setUp (t: Test, session: TestAppOptions['session'] = {}, withReplica = true) {
  const { server: master, redis } = await privateRedis(t, {}, ['--repl-diskless-sync-delay', '0'])
  const admin = new Redis({ port: master.port })
  t.teardown(() => admin.disconnect())
  let replica: RedisProcess | null = null
  let replicaClient: Redis | null = null
  if (withReplica) {
    replica = new RedisProcess(await freePort())
    await replica.start()
    const server = replica
    replicaClient = new Redis({ port: replica.port })
    replicaClient.on('error', () => {})
    t.teardown(async () => {
      server.resume()
      replicaClient!.disconnect()
      await server.stop()
    })
    await replicaClient.replicaof('127.0.0.1', master.port)
    while (!(await replicaClient.info('replication')).includes('master_link_status:up')) await sleep(20)
  }
  const app = await buildApp(redis, { keyPrefix, session })
  t.teardown(() => app.close())
  return { app, admin, replica, replicaClient }
}

function logout (app: FastifyInstance, skey: string) {
  return app.inject({ method: 'DELETE', url: '/auth/session', headers: { 'x-skey': skey } })
}

/** The record of `skey`'s session as `redis` has it. */
function recordOn (redis: Redis, skey: string) {
  return redis.get(`${keyPrefix}s:${sessionIdOf(skey)}`)
}

test('with a replica, a logout is acknowledged once the replica has the tombstone', async (t) => {
  const { app, replicaClient } = await setUp(t)
  const { skey } = await app.sessions.create(identity, { user: { id: 'u-1' } })
  t.equal((await logout(app, skey)).statusCode, 204)
  t.match(await recordOn(replicaClient!, skey), /^t\|/, 'the replica has it when the 204 leaves')
})

test('a frozen replica: the logout answers 503, so does its retry, until the replica has the tombstone', async (t) => {
  const { app, admin, replica, replicaClient } = await setUp(t)
  const { skey } = await app.sessions.create(identity, { user: { id: 'u-1' } })
  replica!.pause()
  const first = await logout(app, skey)
  t.equal(first.statusCode, 503)
  t.equal(first.json().code, 'MPA_STORE_UNAVAILABLE')
  t.match(await recordOn(admin, skey), /^t\|/, 'the master has the tombstone: only its durability is missing')
  // The retry finds the tombstone: it is not "revoked" until the replica has it.
  t.equal((await logout(app, skey)).statusCode, 503, 'a retry while the replica cannot take it is refused too')
  replica!.resume()
  const retried = await logout(app, skey)
  t.equal(retried.statusCode, 401)
  t.equal(retried.json().code, 'MPA_SESSION_REVOKED')
  t.match(await recordOn(replicaClient!, skey), /^t\|/, 'and the replica has it when the 401 leaves')
})

test('a WAIT cut short by a killed connection (as Sentinel kills clients when it moves a master) acknowledges nothing', async (t) => {
  const { app, admin, replica } = await setUp(t, { storeTimeout: '4s' })
  const { skey } = await app.sessions.create(identity, { user: { id: 'u-1' } })
  replica!.pause()
  const reply = logout(app, skey)
  // Once our WAIT is blocked on the master, every normal client there is killed.
  while (!/cmd=wait/.test(String(await admin.client('LIST')))) await sleep(5)
  await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
  t.equal((await reply).statusCode, 503)
})

test('logging out every device: the index keeps its entries until the tombstones are durable, so a retry ends them', async (t) => {
  const { app, admin, replica, replicaClient } = await setUp(t)
  const created = []
  for (let i = 0; i < 3; i++) created.push(await app.sessions.create(identity, { user: { id: 'u-all' } }))
  replica!.pause()
  await t.rejects(app.sessions.revoke({ userId: 'u-all' }), { code: 'MPA_STORE_UNAVAILABLE' })
  t.equal(await admin.zcard(`${keyPrefix}u:{u-all}`), 3, 'the index still lists them')
  replica!.resume()
  t.same(await app.sessions.revoke({ userId: 'u-all' }), [], 'the retry ended none itself (the first attempt did)')
  for (const { skey } of created) t.match(await recordOn(replicaClient!, skey), /^t\|/)
  t.equal(await admin.zcard(`${keyPrefix}u:{u-all}`), 0, 'and the index is emptied once they are')
})

test('logging out every device from one of them: the others first, this one last, so a retry after a 503 still authenticates', async (t) => {
  const { app, admin, replica, replicaClient } = await setUp(t)
  const [mine, other] = [await app.sessions.create(identity, { user: { id: 'u-mine' } }), await app.sessions.create(identity, { user: { id: 'u-mine' } })]
  replica!.pause()
  t.equal((await app.inject({ method: 'DELETE', url: '/auth/sessions', headers: { 'x-skey': mine.skey } })).statusCode, 503)
  t.match(await recordOn(admin, mine.skey), /^2\|/, 'this device is still live: the others could not be made durable')
  replica!.resume()
  const retried = await app.inject({ method: 'DELETE', url: '/auth/sessions', headers: { 'x-skey': mine.skey } })
  t.equal(retried.statusCode, 200)
  t.same(retried.json(), { revoked: 1 }, 'this device (the other ended in the first attempt)')
  for (const { skey } of [mine, other]) t.match(await recordOn(replicaClient!, skey), /^t\|/)
})

test('the issued-before mark and a ban wait for the replica too', async (t) => {
  const { app, replica, replicaClient } = await setUp(t)
  await app.sessions.create(identity, { user: { id: 'u-ban' } })
  replica!.pause()
  await t.rejects(app.sessions.revokeIssuedBefore(Date.now() - 60_000), { code: 'MPA_STORE_UNAVAILABLE' })
  await t.rejects(app.sessions.ban('u-ban'), { code: 'MPA_STORE_UNAVAILABLE' })
  replica!.resume()
  const mark = Date.now() - 60_000
  t.equal(await app.sessions.revokeIssuedBefore(mark), mark)
  t.equal(await app.sessions.revokeIssuedBefore(mark - 1), mark, 'never lowered, yet written again (its WAIT proves it)')
  t.equal(await replicaClient!.get(`${keyPrefix}ctl:issued-before`), String(mark))
  t.equal((await app.sessions.ban('u-ban')).length, 1)
  t.ok(await replicaClient!.get(`${keyPrefix}ban:{u-ban}`))
})

test('replicas: 0 waits for none; replicas: 1 with no replica refuses every revocation, saying why', async (t) => {
  await t.test('replicas: 0', async (t) => {
    const { app, replica } = await setUp(t, { replicas: 0 })
    const { skey } = await app.sessions.create(identity, { user: { id: 'u-1' } })
    replica!.pause()
    t.equal((await logout(app, skey)).statusCode, 204)
  })
  await t.test('replicas: 1, none there', async (t) => {
    const { app } = await setUp(t, { replicas: 1 }, false)
    const { skey } = await app.sessions.create(identity, { user: { id: 'u-1' } })
    await t.rejects(app.sessions.revoke({ skey }), { code: 'MPA_STORE_UNAVAILABLE', cause: { message: /WAIT: fewer than 1 replica/ } })
  })
  await t.test("'auto' on a master with no replica waits for none", async (t) => {
    const { app, admin } = await setUp(t, {}, false)
    const { skey } = await app.sessions.create(identity, { user: { id: 'u-1' } })
    t.equal((await logout(app, skey)).statusCode, 204)
    t.notMatch(String(await admin.client('LIST')), /cmd=wait/)
  })
})
