import { test } from 'tap'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import type { Identity } from '../../index.js'
import { buildApp } from '../helpers/app.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'

// "When a revocation is acknowledged, no instance serves that session
// again", attacked from outside: instance B runs in a process of its own,
// its event loop blocked 20 ms out of every 40, its cache on and holding the
// session; the moment A's logout answers 204, B is asked. bench/ runs the
// same probe 5,000 times (npm run bench:revocation); here a few hundred.

const TRIALS = 300
const WORKERS = 12
const identity: Identity = { provider: 'wechat', appId: 'wx-revocation', openId: 'o-revocation' }

test(`B busy 20 ms every 40 ms, probed the moment A acknowledges a logout: 0 stale in ${TRIALS} trials`, async (t) => {
  const { redis, prefix: keyPrefix } = testRedis(t, 'revocation')
  const a = await buildApp(redis, { keyPrefix })
  t.teardown(() => a.close())
  const child = fork(fileURLToPath(new URL('../helpers/busy-instance.ts', import.meta.url)), [JSON.stringify({ redisUrl: REDIS_URL, keyPrefix, busyMs: 20, everyMs: 40 })], {
    execArgv: process.execArgv, stdio: ['ignore', 'pipe', 'inherit', 'ipc']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill() })
  const [line] = await once(child.stdout!, 'data') as [Buffer]
  const b = `http://127.0.0.1:${Number(String(line).trim())}`
  const onB = async (skey: string) => {
    const { statusCode, body } = await request(`${b}/me`, { headers: { 'x-skey': skey } })
    return { statusCode, code: (await body.json() as { code?: string }).code }
  }
  // B's first requests, while its cache comes on.
  for (let i = 0; i < 5; i++) await onB((await a.sessions.create(identity, { user: { id: 'warm-up' } })).skey)

  let stale = 0
  let trials = 0
  const worker = async (n: number) => {
    while (trials < TRIALS) {
      trials++
      const { skey } = await a.sessions.create(identity, { user: { id: `u-${n}` } })
      // Served twice by B: from Redis, then (as a rule) from its cache.
      for (let i = 0; i < 2; i++) await onB(skey)
      const logout = await a.inject({ method: 'DELETE', url: '/auth/session', headers: { 'x-skey': skey } })
      if (logout.statusCode !== 204) t.fail(`the logout answered ${logout.statusCode}`)
      const probe = await onB(skey)
      if (probe.statusCode !== 401) stale++
      else if (probe.code !== 'MPA_SESSION_REVOKED') t.fail(`B answered ${probe.code}`)
    }
  }
  await Promise.all(Array.from({ length: WORKERS }, (_value, n) => worker(n)))
  t.equal(stale, 0, `${stale} stale answers from B in ${trials} trials`)
  child.send('stop')
  await once(child, 'exit')
})
