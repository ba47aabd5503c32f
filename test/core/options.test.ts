import { test } from 'tap'
import Fastify from 'fastify'
import fastifyRedis from '@fastify/redis'
import miniprogramAuth, { authenticatePlugin, loginPlugin, sessionRoutes, sessionsPlugin, type MiniprogramAuthOptions } from '../../index.js'
import { REDIS_URL, sharedRedis, uniquePrefix } from '../helpers/redis.js'

async function registerFails (options: MiniprogramAuthOptions): Promise<Error> {
  const app = Fastify()
  try {
    await app.register(miniprogramAuth, options)
    await app.ready()
  } catch (err) {
    return err as Error
  } finally {
    await app.close()
  }
  throw new Error('register did not fail')
}

test('bad options fail at register time, naming the option', async (t) => {
  const redis = sharedRedis()
  t.teardown(() => redis.disconnect())
  t.match((await registerFails({})).message, /^redis: pass an ioredis/)
  t.match((await registerFails({ redis: {} as never })).message, /^redis:/)
  t.match((await registerFails({ redis, prefix: 'auth' })).message, /^prefix must be a path/)
  t.match((await registerFails({ redis, session: { ttl: '7 days' } })).message, /^session\.ttl/)
  t.match((await registerFails({ redis, session: { header: 'x skey' } })).message, /^session\.header/)
  t.match((await registerFails({ redis, resolveUser: 'users.upsert' as never })).message, /^resolveUser must be a function/)
  t.match((await registerFails({ redis, codeReplayWindow: 'a while' })).message, /^codeReplayWindow/)
})

test('without options.redis it uses @fastify/redis', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyRedis, { url: REDIS_URL })
  await app.register(miniprogramAuth, { keyPrefix: uniquePrefix('fredis'), prefix: '/login-state' })
  await app.ready()
  const { skey } = await app.sessions.create({ provider: 'alipay', appId: '2021', openId: 'open' }, { user: { id: 'u' } })
  const res = await app.inject({ url: '/login-state/session', headers: { authorization: `Bearer ${skey}` } })
  t.equal(res.statusCode, 200)
  t.equal(res.json().session.provider, 'alipay')
})

test('the pieces compose on their own, and declare what they depend on', async (t) => {
  const redis = sharedRedis()
  t.teardown(() => redis.disconnect())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(sessionsPlugin, { redis, keyPrefix: uniquePrefix('pieces') })
  await app.register(authenticatePlugin)
  await app.register(loginPlugin)
  await app.register(sessionRoutes, { prefix: '/me' })
  await app.ready()
  const { skey } = await app.sessions.create({ provider: 'wechat', appId: 'wx', openId: 'o' }, { user: { id: 'u' } })
  t.equal((await app.inject({ url: '/me/session', headers: { 'x-skey': skey } })).statusCode, 200)

  const orphan = Fastify()
  await t.rejects(async () => {
    await orphan.register(authenticatePlugin)
    await orphan.ready()
  }, /mpa-sessions/, 'authenticate needs sessions')
  await orphan.close()
})
