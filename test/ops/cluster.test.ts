import { test } from 'tap'
import { Cluster } from 'ioredis'
import type { Identity } from '../../index.js'
import { createWechatSandbox } from '../../sandbox/wechat.js'
import { buildApp } from '../helpers/app.js'
import { startCluster } from '../helpers/cluster.js'
import { keyOf } from '../helpers/keys.js'
import { socketWrites } from '../helpers/socket-writes.js'

// The cluster's nodes are private redis-servers without persistence, in a
// temporary folder: stopping them and removing it removes every key written.

test('everything works on a real 3-master Redis Cluster (no cross-slot command)', async (t) => {
  const { ports, stop } = await startCluster(3)
  t.teardown(stop)

  const cluster = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })))
  const app = await buildApp(cluster, { session: { maxPerUser: 3 } })
  t.teardown(async () => { await app.close(); cluster.disconnect() })

  const identity: Identity = { provider: 'wechat', appId: 'wx1', openId: 'o1' }
  const created = []
  for (let i = 0; i < 5; i++) {
    created.push(await app.sessions.create(identity, { user: { id: 'cluster-user' }, secrets: { sessionKey: 'k' } }))
    await new Promise((resolve) => setTimeout(resolve, 3)) // distinct creation times: the cap evicts the oldest
  }
  const slots = new Set(await Promise.all(created.map(({ session }) => cluster.cluster('KEYSLOT', keyOf(app.sessions, 's', session.id)))))
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

  // The WeChat side on the cluster: the login-code guard (two instances, one
  // code), the latest-session_key record, and the shared access token with its
  // lock (an EVAL).
  const wechat = await createWechatSandbox({ apps: { wx0000000000cluster: 'cluster-secret-0123456789' } })
  t.teardown(() => wechat.close())
  const wechatApp = { appId: 'wx0000000000cluster', appSecret: 'cluster-secret-0123456789', baseUrl: wechat.url }
  const instances = await Promise.all([1, 2].map(() => buildApp(cluster, { keyPrefix: 'mpa-cluster:', wechat: wechatApp })))
  t.teardown(() => Promise.all(instances.map((instance) => instance.close())))
  const code = wechat.issueCode({ openId: 'oCluster0000000000000000001', phone: '13800138000' })
  const logins = await Promise.all([...instances, ...instances].map((instance) => instance.inject({ method: 'POST', url: '/auth/wechat/login', payload: { code } })))
  t.same(logins.map((res) => res.statusCode), [200, 200, 200, 200])
  t.equal(new Set(logins.map((res) => res.json().skey)).size, 1, 'one code, one session, on two instances')
  t.equal(wechat.calls('jscode2session'), 1)
  const skey = logins[0]!.json().skey as string
  const headers = { 'x-skey': skey }
  const profile = await instances[1]!.inject({ method: 'POST', url: '/auth/wechat/userinfo', headers, payload: wechat.userInfo('oCluster0000000000000000001') })
  t.equal(profile.statusCode, 200, profile.body)
  const phones = await Promise.all(instances.map((instance) => instance.inject({ method: 'POST', url: '/auth/wechat/phone', headers, payload: { code: wechat.phoneCode('oCluster0000000000000000001') } })))
  t.same(phones.map((res) => res.json().purePhoneNumber), ['13800138000', '13800138000'])
  t.equal(wechat.calls('stable_token'), 1, 'one access token for both instances')
})

test('on a Cluster, the reads of requests in one turn leave in one socket write per node', async (t) => {
  const { ports, stop } = await startCluster(3)
  t.teardown(stop)
  const cluster = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })))
  const app = await buildApp(cluster, { session: { cache: false } })
  t.teardown(async () => { await app.close(); cluster.disconnect() })
  const users = Array.from({ length: 12 }, (_, i) => `cluster-batch-${i}`)
  const skeys = await Promise.all(users.map(async (id) => (await app.sessions.create({ provider: 'wechat', appId: 'wx1', openId: id }, { user: { id } })).skey))
  const nodes = cluster.nodes('master')
  const writes = await Promise.all(nodes.map((node) => socketWrites(t, node)))
  const replies = await Promise.all(skeys.map((skey) => app.inject({ url: '/me', headers: { 'x-skey': skey } })))
  t.same(replies.map((reply) => reply.json().user.id), users)
  const reads = writes.map((node) => node.flat().length)
  t.ok(reads.filter((count) => count > 0).length > 1, `the records live on several masters (reads per master: ${reads.join(', ')})`)
  t.equal(reads.reduce((x, y) => x + y), 24, 'a record and the issued-before mark per request, sent together')
  t.same(writes.map((node) => node.length), reads.map((count) => count > 0 ? 1 : 0), 'one write per master')
})
