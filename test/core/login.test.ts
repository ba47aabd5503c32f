import { test, type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import type { Identity, MiniprogramAuthOptions } from '../../index.js'
import { buildApp } from '../helpers/app.js'
import { sharedRedis, testRedis } from '../helpers/redis.js'

interface Upstream { calls: number, fail: boolean, delayMs: number }

// A login provider that stands in for a platform and counts its exchanges,
// and a route that logs in through it the way the provider routes do.
function loginRoute (upstream: Upstream) {
  return (app: FastifyInstance) => {
    app.miniprogramLogin.addProvider({
      name: 'wechat',
      resolveAppId: () => 'wx1',
      exchangeBudgetMs: () => 1000,
      exchange: async (code) => {
        upstream.calls++
        await sleep(upstream.delayMs)
        if (upstream.fail) throw new Error('platform down')
        const identity: Identity = { provider: 'wechat', appId: 'wx1', openId: `open-${code}` }
        return { identity, secrets: { sessionKey: 'c2Vzc2lvbmtleXNlc3Npb24=' } }
      }
    })
    app.post<{ Body: { code: string } }>('/test-login', async (request) => app.miniprogramLogin.login(request, 'wechat', request.body.code))
  }
}

async function twoInstances (t: Test, options: MiniprogramAuthOptions = {}) {
  const upstream: Upstream = { calls: 0, fail: false, delayMs: 0 }
  const { redis, prefix: keyPrefix } = testRedis(t, 'login')
  const clients = [redis, sharedRedis(t)]
  const apps = await Promise.all(clients.map((redis) => buildApp(redis, { keyPrefix, ...options }, loginRoute(upstream))))
  t.teardown(() => Promise.all(apps.map((app) => app.close())))
  return { upstream, apps: apps as [FastifyInstance, FastifyInstance], redis, keyPrefix }
}

const post = (app: FastifyInstance, code: string) => app.inject({ method: 'POST', url: '/test-login', payload: { code } })

test('a retried code gets the first answer back, on any instance, without a second exchange', async (t) => {
  const { upstream, apps: [a, b], redis, keyPrefix } = await twoInstances(t)
  const first = await post(a, 'code-1')
  t.equal(first.statusCode, 200)
  const { skey, user, expiresAt } = first.json()
  t.same(user, { id: 'wechat:wx1:open-code-1' }, 'the default resolveUser')
  t.ok(expiresAt > Date.now())
  const replay = await post(b, 'code-1')
  t.same(replay.json(), first.json(), 'same skey from the other instance')
  t.equal(upstream.calls, 1)
  t.equal((await b.inject({ url: '/me', headers: { 'x-skey': skey } })).statusCode, 200)

  const keys = await redis.keys(`${keyPrefix}code:*`)
  t.equal(keys.length, 1)
  const stored = await redis.get(keys[0]!)
  t.notOk(stored!.includes(skey), 'the kept answer is sealed: no raw skey in Redis')
  t.notOk(keys[0]!.includes('code-1'), 'the code is not in the key either')

  t.equal((await post(a, 'code-2')).statusCode, 200)
  t.equal(upstream.calls, 2, 'another code is another exchange')
})

test('a retried code whose session has ended since is spent: MPA_CODE_INVALID, not a dead skey', async (t) => {
  const { upstream, apps: [a, b] } = await twoInstances(t)
  const first = await post(a, 'code-logout')
  t.equal((await a.inject({ method: 'DELETE', url: '/auth/session', headers: { 'x-skey': first.json().skey } })).statusCode, 204)
  const replay = await post(b, 'code-logout')
  t.equal(replay.statusCode, 401)
  t.equal(replay.json().code, 'MPA_CODE_INVALID')
  t.equal(upstream.calls, 1, 'and the platform was not asked again')
})

test('concurrent posts of one code on two instances share one exchange', async (t) => {
  const { upstream, apps: [a, b] } = await twoInstances(t)
  upstream.delayMs = 200
  const replies = await Promise.all([post(a, 'same'), post(b, 'same'), post(a, 'same'), post(b, 'same')])
  t.same(new Set(replies.map((res) => res.json().skey)).size, 1, 'one skey for all')
  t.ok(replies.every((res) => res.statusCode === 200))
  t.equal(upstream.calls, 1)
})

test('a failed exchange leaves nothing behind, and the window ends', async (t) => {
  const { upstream, apps: [a, b] } = await twoInstances(t, { codeReplayWindow: '300ms' })
  upstream.fail = true
  t.equal((await post(a, 'flaky')).statusCode, 500)
  upstream.fail = false
  const retry = await post(b, 'flaky')
  t.equal(retry.statusCode, 200, 'a retry after a failure exchanges again')
  t.equal(upstream.calls, 2)
  await sleep(400)
  const late = await post(a, 'flaky')
  t.not(late.json().skey, retry.json().skey, 'after the window the code is exchanged again (the platform would refuse it)')
  t.equal(upstream.calls, 3)
})

test('resolveUser gets the identity and the request; what it returns is request.user', async (t) => {
  const upstream: Upstream = { calls: 0, fail: false, delayMs: 0 }
  const { redis, prefix } = testRedis(t, 'resolve')
  const seen: Array<{ identity: Identity, ua: string | undefined }> = []
  const app = await buildApp(redis, {
    keyPrefix: prefix,
    resolveUser: async (identity, request) => {
      seen.push({ identity, ua: request.headers['user-agent'] })
      return { id: 42, nickName: 'Zoë 🐼', roles: ['member'] }
    }
  }, loginRoute(upstream))
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/test-login', payload: { code: 'c' }, headers: { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)' } })
  t.same(res.json().user, { id: 42, nickName: 'Zoë 🐼', roles: ['member'] })
  t.same(seen, [{ identity: { provider: 'wechat', appId: 'wx1', openId: 'open-c' }, ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)' }])
  const me = await app.inject({ url: '/auth/session', headers: { 'x-skey': res.json().skey } })
  t.same(me.json().user, { id: 42, nickName: 'Zoë 🐼', roles: ['member'] })
  t.equal(me.json().session.device, 'iPhone; CPU iPhone OS 17_0 like Mac OS X')
  t.same(await app.sessions.list(42).then((list) => list.length), 1, 'indexed under the id resolveUser chose')
})

test('a resolveUser that returns no id is a loud 500, not a broken session', async (t) => {
  const upstream: Upstream = { calls: 0, fail: false, delayMs: 0 }
  const { redis, prefix } = testRedis(t, 'badresolve')
  const app = await buildApp(redis, { keyPrefix: prefix, resolveUser: () => ({ name: 'no id' }) as never }, loginRoute(upstream))
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/test-login', payload: { code: 'c' } })
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'MPA_MISCONFIGURED')
  t.match(res.json().message, /resolveUser must return an object with an id/)
})
