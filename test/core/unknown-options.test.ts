import { test } from 'tap'
import { buildApp, LogCapture } from '../helpers/app.js'
import { testRedis } from '../helpers/redis.js'

// A typo in an option would otherwise leave its default in place without a word.

test('an unknown key fails registration, naming it and what the object takes', async (t) => {
  const { redis, prefix } = testRedis(t, 'unknown-options')
  const fails = (options: object) => buildApp(redis, { keyPrefix: prefix, ...options })
  await t.rejects(fails({ sesion: { ttl: '1d' } }), /^unknown option sesion: the plugin takes prefix, redis, keyPrefix, secretKeys, session, .*hookTimeout, .*wechat, alipay, douyin, qq, wecom, kuaishou, baidu, wechatOa, wechatWeb, wechatApp, logLevel, logSerializers$/)
  await t.rejects(fails({ sesion: {}, wechatt: {} }), /^unknown option sesion, wechatt: /, 'every unknown key at once')
  await t.rejects(fails({ session: { ttl: '1d', maxage: '30d' } }), /^unknown option session\.maxage: session takes ttl, maxAge, maxPerUser, onePerPlatform, platforms, apps, storeTimeout, replicas, tombstoneTtl, cache, header$/)
  await t.rejects(fails({ session: { cache: { maxbytes: 1 } } }), /^unknown option session\.cache\.maxbytes: session\.cache takes max, maxBytes, lease, heartbeat$/)
  await t.rejects(fails({ rateLimit: { max: 5, window: '1m' }, wechat: { appId: 'wx1', appSecret: 's' } }), /^unknown option rateLimit\.window: rateLimit takes max, timeWindow, keyGenerator$/)

  // Fastify hands a plugin its own register options too: let through, and applied to our routes.
  const logs = new LogCapture()
  const withRegisterOptions = await buildApp(redis, { keyPrefix: prefix, logs, logLevel: 'warn' } as object, (app) => {
    app.get('/theirs', async () => ({}))
  })
  t.teardown(() => withRegisterOptions.close())
  const session = await withRegisterOptions.inject({ url: '/auth/session' })
  t.same([session.statusCode, session.json().code], [401, 'MPA_SKEY_MISSING'], 'Fastify\'s own register options (logLevel, logSerializers) are not refused')
  await withRegisterOptions.inject({ url: '/theirs' })
  const incoming = logs.lines.map((line) => JSON.parse(line)).filter(({ msg }) => msg === 'incoming request').map(({ req }) => req.url)
  t.same(incoming, ['/theirs'], 'logLevel: warn applies to our routes (no info line for /auth/session), not to the app\'s')
})

test('with no login provider, the app is told that no login routes were added', async (t) => {
  const { redis, prefix } = testRedis(t, 'no-providers')
  const logs = new LogCapture()
  const app = await buildApp(redis, { keyPrefix: prefix, logs })
  t.teardown(() => app.close())
  const said = logs.lines.map((line) => JSON.parse(line)).filter((line) => /no login routes were added/.test(line.msg))
  t.equal(said.length, 1)
  t.equal(said[0].level, 30, 'at info: an app that only checks sessions is legitimate')
  t.match(said[0].msg, /\(no wechat, alipay, douyin, qq, wecom, kuaishou, baidu, wechatOa, wechatWeb, wechatApp option\)/, 'it names the options that add them')
  t.equal((await app.inject({ method: 'POST', url: '/auth/wechat/login', payload: { code: 'c' } })).statusCode, 404)
  t.equal((await app.inject({ url: '/auth/session' })).statusCode, 401, 'the session routes are there')

  const withWechat = new LogCapture()
  const wechatApp = await buildApp(redis, { keyPrefix: prefix, logs: withWechat, wechat: { appId: 'wx00000000000000a1', appSecret: 'not-a-secret-wechat-knows' } })
  t.teardown(() => wechatApp.close())
  t.notMatch(withWechat.text, /no login routes were added/)
})
