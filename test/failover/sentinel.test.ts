import { test, type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import type { Identity } from '../../index.js'
import { sessionIdOf } from '../../lib/skey.js'
import { buildApp } from '../helpers/app.js'
import { uniquePrefix } from '../helpers/redis.js'
import { startSentinel, waitFor, type TestSentinel } from '../helpers/sentinel.js'

// Sentinel, as most self-hosted and many managed Redis deployments run: one
// master, one replica, three sentinels, two app instances on ioredis's
// Sentinel configuration. Logouts go on while the master fails over; every
// one that was acknowledged must stay revoked afterwards, on the new master
// and on both instances. A logout that could not be made durable answers 503
// and is retried, as a client does.

const identity: Identity = { provider: 'wechat', appId: 'wx-sentinel', openId: 'o-sentinel' }

async function setUp (t: Test) {
  const sentinel = await startSentinel()
  t.teardown(() => sentinel.stop())
  const keyPrefix = uniquePrefix('sentinel')
  const [a, b] = await Promise.all([1, 2].map(() => buildApp(sentinel.client(), { keyPrefix }))) as [FastifyInstance, FastifyInstance]
  t.teardown(() => Promise.all([a.close(), b.close()]))
  const sessions = []
  for (let i = 0; i < 100; i++) sessions.push(await a.sessions.create(identity, { user: { id: `u-${i}` } }))
  return { sentinel, a, b, sessions }
}

/**
 * Logs the sessions out one after another, each retried on a 503 until
 * acknowledged; counts the 503s. `stuck` says what the set-up looks like
 * when a minute of retries of one logout were all refused.
 */
function logOutAll (app: FastifyInstance, skeys: string[], stuck: () => Promise<string>) {
  const acknowledged: string[] = []
  let refused = 0
  const done = (async () => {
    for (const skey of skeys) {
      const since = Date.now()
      for (;;) {
        const reply = await app.inject({ method: 'DELETE', url: '/auth/session', headers: { 'x-skey': skey } })
        // A retry after a 503 may find the first attempt's tombstone: its 401 is acknowledged too.
        if (reply.statusCode === 204 || reply.json().code === 'MPA_SESSION_REVOKED') break
        if (reply.statusCode !== 503) throw new Error(`a logout answered ${reply.statusCode} ${reply.body}`)
        refused++
        if (Date.now() - since > 60_000) throw new Error(`one logout was refused for a minute (${refused} 503s in all): ${await stuck()}`)
        await sleep(100)
      }
      acknowledged.push(skey)
      await sleep(30)
    }
  })()
  return { acknowledged, refused: () => refused, done }
}

/** The sentinels' master and each node's replication role: what a logout refused for a minute ran into. */
async function stateOf (sentinel: TestSentinel): Promise<string> {
  const role = async (port: number) => (await sentinel.cli(port, 'info', 'replication')).match(/^(role|master_port|master_link_status|connected_slaves):.*$/gm)?.join(' ') ?? 'no answer'
  return `the sentinels name ${await sentinel.masterAddress()} as master; ${sentinel.master.port}: ${await role(sentinel.master.port)}; ${sentinel.replica.port}: ${await role(sentinel.replica.port)}; ${sentinel.clientStates()}`
}

/** Every acknowledged logout, after the failover: no live record on the new master, a 401 from both instances. */
async function assertRevoked (t: Test, sentinel: TestSentinel, apps: FastifyInstance[], keyPrefix: string, skeys: string[]) {
  const [host, port] = (await sentinel.masterAddress()).split(':')
  const master = new Redis({ host, port: Number(port) })
  t.teardown(() => master.disconnect())
  let live = 0
  for (const skey of skeys) if ((await master.get(`${keyPrefix}s:${sessionIdOf(skey)}`))?.startsWith('2|')) live++
  t.equal(live, 0, `none of ${skeys.length} acknowledged logouts is live on the new master`)
  // An instance whose connection is still finding the new master answers
  // 503 (the store is unavailable), and is asked again, as a client does:
  // what must never come is a 200.
  let served = 0
  let unavailable = 0
  const since = Date.now()
  for (const [instance, app] of apps.entries()) {
    for (const skey of skeys) {
      for (;;) {
        const reply = await app.inject({ url: '/me', headers: { 'x-skey': skey } })
        const { statusCode } = reply
        if (statusCode !== 503) {
          if (statusCode !== 401) served++
          break
        }
        unavailable++
        if (Date.now() - since > 60_000) throw new Error(`instance ${instance + 1} answered 503 for a minute after the failover (${reply.body}): ${await stateOf(sentinel)}`)
        await sleep(100)
      }
    }
  }
  t.comment(`${unavailable} reads answered 503 while an instance reconnected, and were asked again`)
  t.equal(served, 0, 'and neither instance serves one')
}

test('a manual failover (SENTINEL FAILOVER) during continuous logouts loses no acknowledged revocation', async (t) => {
  const { sentinel, a, b, sessions } = await setUp(t)
  const oldMaster = sentinel.master.port
  const logouts = logOutAll(a, sessions.map(({ skey }) => skey), () => stateOf(sentinel))
  await waitFor(async () => logouts.acknowledged.length >= 20, 'no logout was acknowledged')
  await sentinel.cli(sentinel.sentinels[0]!.port, 'sentinel', 'failover', 'mpa-master')
  await waitFor(async () => (await sentinel.masterAddress()).endsWith(`:${sentinel.replica.port}`), 'the replica was not promoted')
  await logouts.done
  // Sentinel turns the old master into a replica some seconds after the promotion: until then it accepted writes.
  await waitFor(async () => (await sentinel.cli(oldMaster, 'info', 'replication')).includes('master_link_status:up'), 'the old master did not follow the new one')
  t.comment(`${logouts.refused()} logout attempts answered 503 during the failover and were retried`)
  await assertRevoked(t, sentinel, [a, b], a.sessions.keyPrefix, logouts.acknowledged)
  t.equal(logouts.acknowledged.length, sessions.length)
})

test('a crashed master (SIGKILL) during continuous logouts: the promoted replica has every acknowledged revocation', async (t) => {
  const { sentinel, a, b, sessions } = await setUp(t)
  const logouts = logOutAll(a, sessions.map(({ skey }) => skey), () => stateOf(sentinel))
  await waitFor(async () => logouts.acknowledged.length >= 20, 'no logout was acknowledged')
  await sentinel.master.stop('SIGKILL')
  await waitFor(async () => (await sentinel.masterAddress()).endsWith(`:${sentinel.replica.port}`), 'the replica was not promoted')
  // The promoted replica has no replica of its own: nothing it writes can be made durable, so logouts answer 503.
  const refusedAlone = logouts.refused()
  await waitFor(async () => logouts.refused() > refusedAlone + 2, 'logouts were acknowledged with no replica to keep them')
  // The crashed node comes back (empty): Sentinel makes it the new master's replica, and logouts go on.
  await sentinel.master.start()
  await logouts.done
  t.comment(`${logouts.refused()} logout attempts answered 503 while no replica could keep them and were retried`)
  await assertRevoked(t, sentinel, [a, b], a.sessions.keyPrefix, logouts.acknowledged)
})
