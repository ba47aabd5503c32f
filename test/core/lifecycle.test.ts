import t, { test } from 'tap'
import diagnostics from 'node:diagnostics_channel'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import type { RevokeEvent } from '../../index.js'
import { sessionIdOf } from '../../lib/skey.js'
import { PlatformsWorld } from '../helpers/platforms.js'

// The account lifecycle through HTTP, against the sandboxes and a real Redis,
// on two instances where the cache is concerned: why a session ended, bans,
// live user updates, per-platform rules, the operator's issued-before mark.

const WECHAT_APP = { appId: 'wx00000000lifecycle', appSecret: 'lifecycle-secret-0123456789abcdef' }
const world = await PlatformsWorld.create(t, 'lifecycle', WECHAT_APP, '2021000lifecycle')

async function cachingBoth (apps: FastifyInstance[]): Promise<void> {
  for (let i = 0; i < 300 && !apps.every((app) => app.sessions.caching); i++) await sleep(10)
  if (!apps.every((app) => app.sessions.caching)) throw new Error('the caches did not come on')
}

/** Two instances of one app on one Redis prefix, their caches on. */
async function twoInstances (options: Parameters<PlatformsWorld['build']>[0] = {}) {
  const keyPrefix = world.subPrefix('lifecycle')
  const revocations: RevokeEvent[] = []
  const apps = await Promise.all([1, 2].map(() => world.build({ keyPrefix, rateLimit: false, onRevoke: (event) => { revocations.push(event) }, ...options }))) as [FastifyInstance, FastifyInstance]
  await cachingBoth(apps)
  return { a: apps[0], b: apps[1], revocations }
}

const wechatLogin = async (app: FastifyInstance, openId: string) => {
  const reply = await world.post(app, '/auth/wechat/login', { code: world.wechat.issueCode({ openId }) })
  return { ...reply, skey: reply.json.skey as string }
}
const alipayLogin = async (app: FastifyInstance, openId: string) => {
  const reply = await world.post(app, '/auth/alipay/login', { authCode: world.alipay.issueAuthCode({ openId }) })
  return { ...reply, skey: reply.json.skey as string }
}
const codeOf = async (app: FastifyInstance, skey: string) => (await world.call(app, 'GET', '/auth/session', undefined, skey)).json.code as string | undefined
/** Reads until the cache holds the session (the first read may race its own creation's invalidation). */
const cached = async (app: FastifyInstance, skey: string) => { for (let i = 0; i < 3; i++) await world.call(app, 'GET', '/auth/session', undefined, skey) }

test('a session that ended answers why, on the other instance too: revoked, replaced, banned, expired', async (t) => {
  const { a, b } = await twoInstances({ session: { maxPerUser: 2 } })
  const cases: Array<[string, (skey: string, userId: string) => Promise<unknown>, string]> = [
    ['logout', (skey) => world.call(a, 'DELETE', '/auth/session', undefined, skey), 'MPA_SESSION_REVOKED'],
    ['logout everywhere', (skey) => world.call(a, 'DELETE', '/auth/sessions', undefined, skey), 'MPA_SESSION_REVOKED'],
    ['an admin revocation', (skey) => a.sessions.revoke({ skey }), 'MPA_SESSION_REVOKED'],
    ['the cap (two more logins)', async (_skey, userId) => { await wechatLogin(a, userId.split(':')[2]!); await wechatLogin(a, userId.split(':')[2]!) }, 'MPA_SESSION_REPLACED'],
    ['a ban', async (_skey, userId) => { await a.sessions.ban(userId); await a.sessions.unban(userId) }, 'MPA_SESSION_BANNED'],
    // An expiry is acknowledged by no one: its invalidation reaches b within the cache's lease (100 ms).
    ['expiry (the record gone)', async (skey) => { await world.redis.del(`${a.sessions.keyPrefix}s:${sessionIdOf(skey)}`); await sleep(101) }, 'MPA_SESSION_EXPIRED']
  ]
  for (const [name, end, code] of cases) {
    const openId = `o-why-${name.replace(/\W+/g, '-')}`
    const login = await wechatLogin(a, openId)
    await cached(b, login.skey)
    await end(login.skey, login.json.user.id)
    t.equal(await codeOf(b, login.skey), code, `${name}: ${code}`)
  }
})

test('a tombstone lives no longer than the session would have, nor than tombstoneTtl, and costs a few dozen bytes', async (t) => {
  const { a } = await twoInstances({ session: { tombstoneTtl: '2s', ttl: '1h' } })
  const long = await wechatLogin(a, 'o-tomb-long')
  await a.sessions.revoke({ skey: long.skey })
  const key = `${a.sessions.keyPrefix}s:${sessionIdOf(long.skey)}`
  const pttl = await world.redis.pttl(key)
  t.ok(pttl > 0 && pttl <= 2000, `tombstoneTtl bounds it (${pttl} ms)`)
  const bytes = await world.redis.memory('USAGE', key) as number
  // Against an empty string under a name as long: Redis's allocator rounds a
  // name up to its size class, so what a key costs beside its name's length
  // moves with the length of the test's prefix (80 B one run, 84 the next).
  const control = `${a.sessions.keyPrefix}s:${'0'.repeat(sessionIdOf(long.skey).length)}`
  await world.redis.set(control, '', 'PX', 2000)
  const empty = await world.redis.memory('USAGE', control) as number
  await world.redis.del(control)
  t.comment(`a tombstone uses ${bytes} bytes of Redis memory, an empty string under a name as long ${empty} (this test's prefix is long)`)
  t.ok(bytes - empty <= 16, `${bytes - empty} B more than an empty string: no record is kept`)

  const { a: short } = await twoInstances({ session: { tombstoneTtl: '1d', ttl: '1s', maxAge: '1h' } })
  const brief = await wechatLogin(short, 'o-tomb-short')
  await short.sessions.revoke({ skey: brief.skey })
  t.ok(await world.redis.pttl(`${short.sessions.keyPrefix}s:${sessionIdOf(brief.skey)}`) <= 1000, 'no longer than the session\'s idle lifetime left')
})

test('a ban: every session ends at once on every instance, logins answer 403 until unban, reported as ban', async (t) => {
  const { a, b, revocations } = await twoInstances()
  const seen: unknown[] = []
  const channel = (message: unknown) => { seen.push(message) }
  diagnostics.subscribe('fastify-miniprogram-auth:revocation', channel)
  t.teardown(() => diagnostics.unsubscribe('fastify-miniprogram-auth:revocation', channel))
  const phone = await wechatLogin(a, 'o-ban')
  const tablet = await wechatLogin(b, 'o-ban')
  const userId = phone.json.user.id as string
  await cached(b, phone.skey)
  const ended = await a.sessions.ban(userId, { reason: 'fraud' })
  t.same(ended.sort(), [sessionIdOf(phone.skey), sessionIdOf(tablet.skey)].sort(), 'both sessions ended')
  for (const [instance, skey] of [[b, phone.skey], [a, tablet.skey], [b, tablet.skey]] as const) t.equal(await codeOf(instance, skey), 'MPA_SESSION_BANNED')
  t.same(await a.sessions.banned(userId), { reason: 'fraud' })
  const refused = await wechatLogin(b, 'o-ban')
  t.same([refused.statusCode, refused.json.code], [403, 'MPA_USER_BANNED'], 'a login on the other instance is refused')
  t.same(await a.sessions.list(userId), [], 'and left no session behind')
  t.equal(await a.sessions.unban(userId), true)
  t.equal(await a.sessions.unban(userId), false, 'unbanning twice says there was none')
  t.equal((await wechatLogin(b, 'o-ban')).statusCode, 200, 'unbanned: logs in')
  await a.close()
  await b.close()
  t.match(revocations.filter(({ reason }) => reason === 'ban'), [{ reason: 'ban', sessionIds: ended, userId }], 'onRevoke told, as ban')
  t.match(seen, [{ reason: 'ban', count: 2 }], 'and the revocation channel')
})

test('a ban until a moment lifts by itself; a ban in the past is refused', async (t) => {
  const { a } = await twoInstances()
  const userId = (await wechatLogin(a, 'o-ban-until')).json.user.id as string
  const until = Date.now() + 400
  await a.sessions.ban(userId, { until: new Date(until) })
  t.same(await a.sessions.banned(userId), { until })
  t.equal((await wechatLogin(a, 'o-ban-until')).statusCode, 403, 'refused while it lasts')
  await sleep(Math.max(0, until - Date.now()) + 50) // the ban's own expiry, in Redis
  t.equal(await a.sessions.banned(userId), null)
  t.equal((await wechatLogin(a, 'o-ban-until')).statusCode, 200, 'logs in once it lifted')
  await t.rejects(a.sessions.ban(userId, { until: Date.now() - 1 }), /until must be a moment in the future/)
})

test('a ban racing logins on two instances: once it is acknowledged, no session of the user lives', async (t) => {
  const { a, b } = await twoInstances()
  let raced = 0
  for (let round = 0; round < 30; round++) {
    const openId = `o-ban-race-${round}`
    const userId = `wechat:${WECHAT_APP.appId}:${openId}`
    // The ban starts at some moment of the login: before it, during it, after it.
    const [login] = await Promise.all([wechatLogin(b, openId), sleep(Math.random() * 30).then(() => a.sessions.ban(userId))])
    if (login.statusCode === 200) {
      raced++
      t.equal(await codeOf(b, login.skey), 'MPA_SESSION_BANNED', `round ${round}: the login that got in first was ended`)
    } else {
      t.equal(login.json.code, 'MPA_USER_BANNED', `round ${round}: the login after the ban was refused`)
    }
    t.same(await a.sessions.list(userId), [], `round ${round}: nothing left`)
  }
  t.comment(`${raced} of 30 logins got in before the ban`)
})

test('updateUser: every live session of the user, on every instance, on its next request', async (t) => {
  const { a, b } = await twoInstances({ resolveUser: (identity) => ({ id: `u-${identity.openId}`, role: 'member' }) })
  const phone = await wechatLogin(a, 'o-update')
  const web = await alipayLogin(a, 'o-update-ali')
  await cached(b, phone.skey)
  t.equal(await a.sessions.updateUser('u-o-update', { role: 'admin', phone: '13800138000' }), 1, 'one session of that user')
  t.same((await world.call(b, 'GET', '/auth/session', undefined, phone.skey)).json.user, { id: 'u-o-update', role: 'admin', phone: '13800138000' }, 'b sees it at once')
  t.equal(await a.sessions.updateUser('u-o-update', (user) => ({ ...user, role: 'owner' })), 1)
  t.equal((await world.call(b, 'GET', '/me', undefined, phone.skey)).json.user.role, 'owner', 'a function of the user, too')
  await t.rejects(a.sessions.updateUser('u-o-update', { id: 'someone-else' }), /cannot change the user id/)
  t.equal(await a.sessions.updateUser('nobody', { role: 'x' }), 0, 'no session, nothing updated')
  t.equal((await world.call(b, 'GET', '/me', undefined, web.skey)).json.user.role, 'member', 'other users untouched')
  await a.sessions.revoke({ skey: phone.skey })
  t.equal(await a.sessions.updateUser('u-o-update', { role: 'x' }), 0, 'an ended session is not revived')
  t.equal(await codeOf(b, phone.skey), 'MPA_SESSION_REVOKED')
})

test('per-platform rules: lifetimes and caps per provider and per app; one session per platform', async (t) => {
  const { a, b } = await twoInstances({
    session: {
      onePerPlatform: true,
      platforms: { alipay: { ttl: '2h', maxPerUser: 2 } },
      apps: { [WECHAT_APP.appId]: { ttl: '30d', maxAge: '90d' } }
    },
    resolveUser: () => ({ id: 'one-person' })
  })
  const now = Date.now()
  const wechat1 = await wechatLogin(a, 'o-rules')
  t.ok(wechat1.json.expiresAt > now + 29 * 86_400_000, 'the WeChat app\'s own ttl: 30 days')
  const session = (await world.call(a, 'GET', '/auth/session', undefined, wechat1.skey)).json.session
  t.ok(session.absoluteExpiresAt > now + 89 * 86_400_000, 'and maxAge: 90 days')
  const alipay1 = await alipayLogin(a, 'o-rules-ali')
  t.ok(alipay1.json.expiresAt < now + 2 * 3_600_000 + 60_000, 'Alipay\'s ttl: 2 hours')
  await cached(b, wechat1.skey)
  const wechat2 = await wechatLogin(b, 'o-rules')
  t.equal(await codeOf(b, wechat1.skey), 'MPA_SESSION_REPLACED', 'one WeChat session: the new WeChat login replaced the old one')
  t.equal(await codeOf(a, alipay1.skey), undefined, 'but not the Alipay one')
  const alipay2 = await alipayLogin(b, 'o-rules-ali')
  t.equal(await codeOf(a, alipay1.skey), undefined, 'Alipay allows two')
  await alipayLogin(b, 'o-rules-ali')
  t.equal(await codeOf(a, alipay1.skey), 'MPA_SESSION_REPLACED', 'the third Alipay login replaced the oldest Alipay one')
  t.same((await a.sessions.list('one-person')).map(({ provider }) => provider).sort(), ['alipay', 'alipay', 'wechat'])
  t.equal(await codeOf(a, wechat2.skey), undefined)
  t.equal(await codeOf(a, alipay2.skey), undefined)
  for (const [session, message] of [
    [{ platforms: { wechat: { ttl: 'soon' } } }, /session\.platforms\.wechat\.ttl/],
    [{ platforms: { wechat: { maxPerUser: 0 } } }, /session\.platforms\.wechat\.maxPerUser/],
    [{ platforms: { wechat: { ttl: '2d', maxAge: '1d' } } }, /session\.platforms\.wechat\.maxAge must not be shorter/],
    [{ platforms: { wechat: { tll: '1d' } } }, /unknown option session\.platforms\.wechat\.tll/],
    [{ apps: { wx1: { maxAge: 'x' } } }, /session\.apps\.wx1\.maxAge/],
    [{ onePerPlatform: 'yes' }, /session\.onePerPlatform must be a boolean/]
  ] as const) await t.rejects(world.build({ session: session as never }), message)
})

test('revokeIssuedBefore: every session issued before the moment ends on every instance, cached or not; later ones live', async (t) => {
  const { a, b } = await twoInstances()
  const old = await wechatLogin(a, 'o-restore')
  const older = await alipayLogin(b, 'o-restore-ali')
  await cached(b, old.skey)
  const mark = await a.sessions.revokeIssuedBefore()
  t.ok(mark >= old.json.expiresAt - 7 * 86_400_000, 'the mark in force')
  t.equal(await codeOf(b, old.skey), 'MPA_SESSION_REVOKED', 'b answered from its cache before: not any more')
  t.equal(await codeOf(a, older.skey), 'MPA_SESSION_REVOKED')
  await sleep(2)
  const fresh = await wechatLogin(b, 'o-restore')
  t.equal(await codeOf(a, fresh.skey), undefined, 'a session issued after the mark lives')
  t.equal(await a.sessions.revokeIssuedBefore(0), mark, 'the mark never moves back')
})

test('no secret in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})
