import { test } from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Cluster } from 'ioredis'
import type { Identity } from '../index.js'
import { buildApp } from './helpers/app.js'
import { freeClusterPort, RedisProcess } from './helpers/redis.js'

const run = promisify(execFile)

test('everything works on a real 3-master Redis Cluster (no cross-slot command)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mpa-cluster-'))
  const ports: number[] = []
  while (ports.length < 3) {
    const port = await freeClusterPort()
    if (!ports.includes(port)) ports.push(port)
  }
  const nodes = ports.map((port) => new RedisProcess(port, [
    '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--dir', dir
  ]))
  t.teardown(async () => {
    await Promise.all(nodes.map((node) => node.stop()))
    await rm(dir, { recursive: true, force: true })
  })
  await Promise.all(nodes.map((node) => node.start()))
  await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'])
  for (let attempt = 0; attempt < 100; attempt++) {
    const { stdout } = await run('redis-cli', ['-p', String(ports[0]), 'cluster', 'info'])
    if (stdout.includes('cluster_state:ok')) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }

  const cluster = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })))
  const app = await buildApp(cluster, { session: { maxPerUser: 3 } })
  t.teardown(async () => { await app.close(); cluster.disconnect() })

  const identity: Identity = { provider: 'wechat', appId: 'wx1', openId: 'o1' }
  const created = []
  for (let i = 0; i < 5; i++) created.push(await app.sessions.create(identity, { user: { id: 'cluster-user' }, secrets: { sessionKey: 'k' } }))
  const slots = new Set(await Promise.all(created.map(({ session }) => cluster.cluster('KEYSLOT', app.sessions.key('s', session.id)))))
  t.ok(slots.size > 1, `sessions of one user live in ${slots.size} different slots`)

  const [oldest, , third, fourth, newest] = created
  t.equal((await app.inject({ url: '/me', headers: { 'x-skey': oldest!.skey } })).statusCode, 401, 'cap evicted across slots')
  t.equal((await app.inject({ url: '/me', headers: { 'x-skey': newest!.skey } })).statusCode, 200)
  const listed = await app.inject({ url: '/auth/sessions', headers: { 'x-skey': newest!.skey } })
  t.equal(listed.json().sessions.length, 3)
  t.equal((await app.inject({ method: 'DELETE', url: `/auth/sessions/${third!.session.id}`, headers: { 'x-skey': newest!.skey } })).statusCode, 204)
  t.equal((await app.inject({ method: 'DELETE', url: '/auth/session', headers: { 'x-skey': fourth!.skey } })).statusCode, 204)
  t.equal((await app.inject({ url: '/me', headers: { 'x-skey': fourth!.skey } })).statusCode, 401)
  const again = await app.sessions.create(identity, { user: { id: 'cluster-user' } })
  t.same((await app.inject({ method: 'DELETE', url: '/auth/sessions', headers: { 'x-skey': again.skey } })).json(), { revoked: 2 })
  t.equal((await app.inject({ url: '/me', headers: { 'x-skey': newest!.skey } })).statusCode, 401)

  // The login code replay guard runs on the cluster too.
  let exchanges = 0
  const exchange = async () => { exchanges++; return { n: exchanges } }
  const results = await Promise.all([1, 2, 3].map(() => app.miniprogramLogin.once('wechat', 'wx1', 'code-1', exchange)))
  t.same(results, [{ n: 1 }, { n: 1 }, { n: 1 }])
  t.equal(exchanges, 1)
})
