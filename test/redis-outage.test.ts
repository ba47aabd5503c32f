import { test } from 'tap'
import { once } from 'node:events'
import { Redis } from 'ioredis'
import { buildApp } from './helpers/app.js'
import { freePort, RedisProcess } from './helpers/redis.js'

test('Redis down: 503 MPA_STORE_UNAVAILABLE within the store timeout, no crash, and recovery on its own', async (t) => {
  const server = new RedisProcess(await freePort())
  await server.start()
  // A client as an app would make it: ioredis defaults (offline queue, retries forever).
  const redis = new Redis({ port: server.port })
  const redisErrors: Error[] = []
  redis.on('error', (err) => redisErrors.push(err))
  const app = await buildApp(redis)
  t.teardown(async () => { await app.close(); redis.disconnect(); await server.stop() })

  const before = await app.sessions.create({ provider: 'wechat', appId: 'wx1', openId: 'o1' }, { user: { id: 'u1' } })
  t.equal((await app.inject({ url: '/me', headers: { 'x-skey': before.skey } })).statusCode, 200)

  await server.stop()
  const started = Date.now()
  const replies = await Promise.all([
    app.inject({ url: '/me', headers: { 'x-skey': before.skey } }),
    app.inject({ url: '/auth/sessions', headers: { 'x-skey': before.skey } }),
    app.inject({ url: '/me', headers: { 'x-skey': before.skey } })
  ])
  const elapsed = Date.now() - started
  for (const res of replies) {
    t.equal(res.statusCode, 503)
    t.same(res.json(), { statusCode: 503, code: 'MPA_STORE_UNAVAILABLE', error: 'Service Unavailable', message: 'The session store is unavailable: retry later' })
  }
  t.ok(elapsed < 3000, `answered in ${elapsed} ms (store timeout 2 s)`)
  await t.rejects(app.sessions.create({ provider: 'wechat', appId: 'wx1', openId: 'o1' }, { user: { id: 'u1' } }), { code: 'MPA_STORE_UNAVAILABLE' })
  t.ok(redisErrors.length > 0, 'the client saw the outage')

  await server.start() // an empty Redis (no persistence): old sessions are gone
  let recovered = false
  for (let attempt = 0; attempt < 60 && !recovered; attempt++) {
    const res = await app.inject({ url: '/me', headers: { 'x-skey': before.skey } })
    recovered = res.statusCode === 401
    if (!recovered) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.ok(recovered, 'service resumed without a restart of the app')
  const after = await app.sessions.create({ provider: 'wechat', appId: 'wx1', openId: 'o1' }, { user: { id: 'u1' } })
  t.equal((await app.inject({ url: '/me', headers: { 'x-skey': after.skey } })).statusCode, 200)
})

test('a client that fails fast (no offline queue) gives the same 503', async (t) => {
  const server = new RedisProcess(await freePort())
  await server.start()
  const redis = new Redis({ port: server.port, enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  redis.on('error', () => {})
  await once(redis, 'ready')
  const app = await buildApp(redis, { session: { storeTimeout: '500ms' } })
  t.teardown(async () => { await app.close(); redis.disconnect(); await server.stop() })
  const { skey } = await app.sessions.create({ provider: 'alipay', appId: '2021', userId: '2088' }, { user: { id: 'u' } })
  await server.stop()
  const started = Date.now()
  const res = await app.inject({ url: '/me', headers: { 'x-skey': skey } })
  t.equal(res.json().code, 'MPA_STORE_UNAVAILABLE')
  t.ok(Date.now() - started < 1000, 'failed fast')
})
