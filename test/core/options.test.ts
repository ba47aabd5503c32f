import { test } from 'tap'
import fastifyRedis from '@fastify/redis'
import { authenticatePlugin, loginPlugin, sessionRoutes, sessionsPlugin, type MiniprogramAuthOptions } from '../../index.js'
import { buildApp } from '../helpers/app.js'
import { REDIS_URL, sharedRedis, testRedis } from '../helpers/redis.js'

// buildApp closes an app that fails to get ready and rethrows: the failures
// here are what it rethrows. `redis` stays in the options, so that a
// registration without it is one too.
async function registerFails ({ redis, ...options }: MiniprogramAuthOptions): Promise<Error> {
  const app = await buildApp(redis, options).catch((err: Error) => err)
  if (app instanceof Error) return app
  await app.close()
  throw new Error('register did not fail')
}

test('bad options fail at register time, naming the option', async (t) => {
  const redis = sharedRedis(t)
  t.match((await registerFails({})).message, /^redis: pass an ioredis/)
  t.match((await registerFails({ redis: {} as never })).message, /^redis:/)
  t.match((await registerFails({ redis, prefix: 'auth' })).message, /^prefix must be a path/)
  t.match((await registerFails({ redis, session: { ttl: '7 days' } })).message, /^session\.ttl/)
  t.match((await registerFails({ redis, session: { header: 'x skey' } })).message, /^session\.header/)
  t.match((await registerFails({ redis, resolveUser: 'users.upsert' as never })).message, /^resolveUser must be a function/)
  t.match((await registerFails({ redis, codeReplayWindow: 'a while' })).message, /^codeReplayWindow/)
  t.match((await registerFails({ redis, session: { replicas: -1 } })).message, /^session\.replicas must be 'auto' or a number/)
  t.match((await registerFails({ redis, session: { replicas: 'all' as never } })).message, /^session\.replicas/)
  t.match((await registerFails({ redis, session: { cache: { lease: '2s', heartbeat: '1s' } } })).message, /^session\.cache\.heartbeat must not be shorter than session\.cache\.lease/)
  t.match((await registerFails({ redis, hookTimeout: 'soon' })).message, /^hookTimeout/)
})

test('secretKeys are checked at register, and no message repeats a key', async (t) => {
  const redis = sharedRedis(t)
  const key = Buffer.alloc(32, 7)
  const cases: Array<[unknown, RegExp]> = [
    [[], /^secretKeys must be a non-empty array of \{ id, key \}/],
    ['key', /^secretKeys must be a non-empty array/],
    [[{ id: 'a b', key }], /^secretKeys\[0\]\.id must be 1 to 32 letters/],
    [[{ id: 'k', key }, { id: 'k', key }], /^secretKeys\[1\]\.id 'k' is used twice/],
    [[{ id: 'short', key: Buffer.alloc(16, 7).toString('base64') }], /^secretKeys\[0\]\.key must be 32 bytes/],
    [[{ id: 'none' }], /^secretKeys\[0\]\.key must be 32 bytes/],
    [[null], /^secretKeys\[0\]\.id/]
  ]
  for (const [secretKeys, message] of cases) {
    const error = await registerFails({ redis, secretKeys: secretKeys as never })
    t.match(error.message, message)
    t.notMatch(error.message, new RegExp(key.toString('base64').slice(0, 12).replace(/[+/]/g, '.')), 'the key is not in the message')
  }
})

test('without options.redis it uses @fastify/redis', async (t) => {
  // The client is only for deleting what the app wrote under the prefix.
  const { prefix } = testRedis(t, 'fredis')
  const app = await buildApp(undefined, {
    keyPrefix: prefix,
    prefix: '/login-state',
    before: async (app) => { await app.register(fastifyRedis, { url: REDIS_URL }) }
  })
  t.teardown(() => app.close())
  const { skey } = await app.sessions.create({ provider: 'alipay', appId: '2021', openId: 'open' }, { user: { id: 'u' } })
  const res = await app.inject({ url: '/login-state/session', headers: { authorization: `Bearer ${skey}` } })
  t.equal(res.statusCode, 200)
  t.equal(res.json().session.provider, 'alipay')
})

test('the pieces compose on their own, and declare what they depend on', async (t) => {
  const { redis, prefix } = testRedis(t, 'pieces')
  const app = await buildApp(undefined, {
    umbrella: false,
    before: async (app) => {
      await app.register(sessionsPlugin, { redis, keyPrefix: prefix })
      await app.register(authenticatePlugin)
      await app.register(loginPlugin)
      await app.register(sessionRoutes, { prefix: '/me' })
    }
  })
  t.teardown(() => app.close())
  const { skey } = await app.sessions.create({ provider: 'wechat', appId: 'wx', openId: 'o' }, { user: { id: 'u' } })
  t.equal((await app.inject({ url: '/me/session', headers: { 'x-skey': skey } })).statusCode, 200)

  const orphan = buildApp(undefined, { umbrella: false, me: false, before: async (app) => { await app.register(authenticatePlugin) } })
  await t.rejects(orphan, /mpa-sessions/, 'authenticate needs sessions')
})
