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
