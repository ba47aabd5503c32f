import { test, type Test } from 'tap'
import { Redis } from 'ioredis'
import { buildApp, LogCapture } from '../helpers/app.js'
import { RedisProcess, freePort, uniquePrefix } from '../helpers/redis.js'

// Under any maxmemory-policy but noeviction, Redis may evict the per-user
// indexes (every key we write has a TTL) and "log out everywhere" then
// answers 200 while sessions stay alive: the operator is told at startup.

async function startWith (t: Test, args: string[]) {
  const server = new RedisProcess(await freePort(), args)
  await server.start()
  const redis = new Redis(server.url)
  const logs = new LogCapture()
  const app = await buildApp(redis, { keyPrefix: uniquePrefix('eviction'), logs })
  t.teardown(async () => {
    await app.close()
    redis.disconnect()
    await server.stop()
  })
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
