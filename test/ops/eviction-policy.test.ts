import { test, type Test } from 'tap'
import { buildApp, LogCapture } from '../helpers/app.js'
import { privateRedis, uniquePrefix } from '../helpers/redis.js'

// Under any maxmemory-policy but noeviction, Redis may evict the per-user
// indexes (every key we write has a TTL) and "log out everywhere" then
// answers 200 while sessions stay alive: the operator is told at startup.

async function startWith (t: Test, args: string[]) {
  const { redis } = await privateRedis(t, {}, args)
  const logs = new LogCapture()
  const app = await buildApp(redis, { keyPrefix: uniquePrefix('eviction'), logs })
  t.teardown(() => app.close())
  return logs.lines.map((line) => JSON.parse(line) as { level: number, msg: string, policy?: string })
}

for (const policy of ['allkeys-lru', 'volatile-lru', 'volatile-ttl']) {
  test(`maxmemory-policy ${policy}: a warning at startup that names noeviction`, async (t) => {
    const lines = await startWith(t, ['--maxmemory', '100mb', '--maxmemory-policy', policy])
    const warnings = lines.filter((line) => line.level === 40 && /maxmemory-policy/.test(line.msg))
    t.equal(warnings.length, 1)
    t.equal(warnings[0]?.policy, policy)
    t.match(warnings[0]?.msg, /noeviction/)
  })
}

test('maxmemory-policy noeviction: no warning', async (t) => {
  const lines = await startWith(t, ['--maxmemory-policy', 'noeviction'])
  t.equal(lines.filter((line) => /maxmemory-policy/.test(line.msg) && line.level >= 40).length, 0)
})

test('CONFIG forbidden (as on managed services): a debug line, and the app starts', async (t) => {
  const lines = await startWith(t, ['--rename-command', 'CONFIG', '""'])
  const debug = lines.filter((line) => line.level === 20 && /maxmemory-policy/.test(line.msg))
  t.equal(debug.length, 1, 'said at debug level')
  t.equal(lines.filter((line) => line.level >= 40).length, 0, 'nothing louder')
})

test('a Redis that refuses CLIENT TRACKING (an ACL, a managed service): the cache stays off, said at warn, and every request reads Redis', async (t) => {
  const { redis } = await privateRedis(t)
  await redis.acl('SETUSER', 'default', 'on', 'nopass', '~*', '&*', '+@all', '-client|tracking')
  const logs = new LogCapture()
  const app = await buildApp(redis, { keyPrefix: uniquePrefix('no-tracking'), logs })
  t.teardown(() => app.close())
  const { skey } = await app.sessions.create({ provider: 'wechat', appId: 'wx', openId: 'o' }, { user: { id: 'u' } })
  for (let i = 0; i < 30 && !logs.text.includes('NOPERM'); i++) await new Promise((resolve) => setTimeout(resolve, 20))
  const warnings = logs.lines.map((line) => JSON.parse(line) as { level: number, msg: string, reason?: string }).filter((line) => line.level === 40 && /session cache off/.test(line.msg))
  t.ok(warnings.some((line) => /NOPERM/.test(line.reason ?? '')), 'the warning names the refusal')
  t.equal(app.sessions.caching, false)
  t.equal((await app.inject({ url: '/me', headers: { 'x-skey': skey } })).statusCode, 200, 'sessions still work, from Redis')
  await app.sessions.revoke(skey)
  t.equal((await app.inject({ url: '/me', headers: { 'x-skey': skey } })).statusCode, 401)
})
