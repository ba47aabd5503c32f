import t, { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { APP_ID, WechatWorld } from '../helpers/wechat.js'

// A refused access token: stable_token in normal mode first (another service
// on the AppID may have renewed it), a forced refresh only when normal mode
// hands back the very token refused, at most once per 30 s per AppID across
// instances, and the refused call retried once.

// Each scenario gets a sandbox of its own: WeChat's 30 s between forced
// refreshes of an AppID must not carry over from one to the next.
async function worldFor (name: string, clock = { skewMs: 0 }): Promise<WechatWorld> {
  return WechatWorld.create(t, name, { now: () => Date.now() + clock.skewMs })
}

async function phone (world: WechatWorld, app: FastifyInstance, openId: string) {
  const { skey } = await world.login(app, openId, { phone: '13900139000' })
  return world.post(app, '/auth/wechat/phone', { code: world.sandbox.phoneCode(openId) }, skey)
}

/** Two deployments (staging and production) on one AppID: each its own key prefix, as if each had its own Redis. */
async function twoDeployments (world: WechatWorld): Promise<FastifyInstance[]> {
  return [
    await world.build({ wechat: world.app(), keyPrefix: `${world.prefix}staging:` }),
    await world.build({ wechat: world.app(), keyPrefix: `${world.prefix}production:` })
  ]
}

test('two deployments on one AppID: another service refreshing the token costs no forced refresh', async (t) => {
  const world = await worldFor('token-two-deployments')
  const { sandbox } = world
  const deployments = await twoDeployments(world)
  for (const [i, app] of deployments.entries()) t.equal((await phone(world, app, `o-warm-${i}`)).statusCode, 200)
  const tokensBefore = sandbox.calls('stable_token')

  // Another service on the AppID forces a refresh: both deployments hold a dead token.
  sandbox.rotateToken(APP_ID)
  const statuses: number[] = []
  for (let i = 0; i < 12; i++) {
    if (i === 6) sandbox.rotateToken(APP_ID) // and once more, half way
    statuses.push((await phone(world, deployments[i % 2]!, `o-alternate-${i}`)).statusCode)
  }
  t.same(statuses, Array(12).fill(200), 'every phone call succeeds')
  t.ok(sandbox.forcedRefreshes <= 1, `forced refreshes ≤ 1 (${sandbox.forcedRefreshes})`)
  t.equal(sandbox.forcedRefreshes, 0, 'none at all: normal mode hands out the current token')
  t.equal(sandbox.calls('stable_token') - tokensBefore, 4, 'one normal-mode call per deployment per rotation')
  world.assertNoSecrets(t)
})

test('a token refused while normal mode still hands it out: one forced refresh, and the other deployment follows in normal mode', async (t) => {
  const world = await worldFor('token-genuine-force')
  const { sandbox } = world
  const [staging, production] = await twoDeployments(world)
  t.equal((await phone(world, staging!, 'o-warm-s')).statusCode, 200)
  t.equal((await phone(world, production!, 'o-warm-p')).statusCode, 200)
  const tokensBefore = sandbox.calls('stable_token')
  const phonesBefore = sandbox.calls('getuserphonenumber')

  // WeChat refuses the current token, though stable_token still hands it out.
  sandbox.fail('getuserphonenumber', { errcode: 40001 })
  t.equal((await phone(world, staging!, 'o-forced')).statusCode, 200, 'refused, forced refresh, retried')
  t.equal(sandbox.forcedRefreshes, 1)
  t.equal(sandbox.calls('stable_token') - tokensBefore, 2, 'normal mode first, then forced')
  t.equal(sandbox.calls('getuserphonenumber') - phonesBefore, 2, 'refused once, retried once')

  // The forced refresh killed production's token: it must not force again (WeChat would refuse within 30 s).
  const statuses: number[] = []
  for (let i = 0; i < 12; i++) statuses.push((await phone(world, [production, staging][i % 2]!, `o-after-${i}`)).statusCode)
  t.same(statuses, Array(12).fill(200))
  t.equal(sandbox.forcedRefreshes, 1, 'still one forced refresh in all')
  t.equal(sandbox.calls('stable_token') - tokensBefore, 3, 'production took the new token in normal mode')
  world.assertNoSecrets(t)
})

test('one forced refresh per 30 s across the instances of a deployment; then a clear 502, no loop', async (t) => {
  const clock = { skewMs: 0 }
  const world = await worldFor('token-force-guard', clock)
  const { sandbox } = world
  const [a, b] = [await world.build(), await world.build()]
  t.equal((await phone(world, a, 'o-warm')).statusCode, 200)

  // Four calls on two instances, all refused at once: one forced refresh serves them all.
  const users = ['o-c0', 'o-c1', 'o-c2', 'o-c3']
  const skeys = await Promise.all(users.map(async (openId, i) => (await world.login([a, b][i % 2]!, openId, { phone: '13900139000' })).skey))
  sandbox.fail('getuserphonenumber', { errcode: 40001, times: 4 })
  const concurrent = await Promise.all(users.map((openId, i) => world.post([a, b][i % 2]!, '/auth/wechat/phone', { code: sandbox.phoneCode(openId) }, skeys[i])))
  t.same(concurrent.map((reply) => reply.statusCode), [200, 200, 200, 200])
  t.equal(sandbox.forcedRefreshes, 1, 'one forced refresh for every refused call of every instance')
  const guard = `${world.prefix}wechat:token-forced:${APP_ID}`
  const pttl = await world.redis.pttl(guard)
  t.ok(pttl > 0 && pttl <= 30_000, `the guard is in Redis for 30 s at most (${pttl} ms)`)

  // Refused again within 30 s, on the other instance: no second forced refresh, a 502 that says why.
  const tokens = sandbox.calls('stable_token')
  const phones = sandbox.calls('getuserphonenumber')
  sandbox.fail('getuserphonenumber', { errcode: 40001 })
  const blocked = await phone(world, b, 'o-blocked')
  t.match(blocked.json, { statusCode: 502, code: 'MPA_UPSTREAM_ERROR', message: /refresh was forced less than 30 s ago/ })
  t.equal(sandbox.forcedRefreshes, 1, 'not forced')
  t.equal(sandbox.calls('stable_token') - tokens, 1, 'one normal-mode call')
  t.equal(sandbox.calls('getuserphonenumber') - phones, 1, 'and no retry with the same token')
  t.equal((await phone(world, a, 'o-next')).statusCode, 200, 'the token was good: the next call works')

  // Our guard gone (as when another service forced the refresh) but WeChat's 30 s not yet over: WeChat
  // does not refresh and hands back the token it refused. No retry with it, a 502 that says why.
  await world.redis.del(guard)
  const phonesBefore = sandbox.calls('getuserphonenumber')
  sandbox.fail('getuserphonenumber', { errcode: 40001 })
  t.match((await phone(world, a, 'o-too-soon')).json, { statusCode: 502, code: 'MPA_UPSTREAM_ERROR', message: /a forced refresh handed back the same one/ })
  t.equal(sandbox.forcedRefreshes, 2, 'the one forced refresh WeChat did not carry out')
  t.equal(sandbox.calls('getuserphonenumber') - phonesBefore, 1, 'and no retry with the refused token')

  // 30 s later for both: the next refusal forces again.
  await world.redis.del(guard)
  clock.skewMs += 31_000
  sandbox.fail('getuserphonenumber', { errcode: 40001 })
  t.equal((await phone(world, b, 'o-later')).statusCode, 200)
  t.equal(sandbox.forcedRefreshes, 3)
  world.assertNoSecrets(t)
})

test('errcode 45009 (daily quota reached) is a 429', async (t) => {
  const world = await worldFor('token-quota')
  const { sandbox } = world
  const app = await world.build()
  sandbox.fail('stable_token', { errcode: 45009 })
  await t.rejects(app.wechat.accessToken(), { statusCode: 429, code: 'MPA_UPSTREAM_RATE_LIMITED', message: /stable_token errcode 45009/ })
  sandbox.fail('getuserphonenumber', { errcode: 45009 })
  t.match((await phone(world, app, 'o-quota')).json, { statusCode: 429, code: 'MPA_UPSTREAM_RATE_LIMITED', message: /getuserphonenumber errcode 45009/ })
})
