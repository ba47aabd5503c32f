import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { generateSkey, sessionIdOf } from '../../lib/skey.js'
import { World } from '../helpers/world.js'

// An upgrade from 0.1 logs no one out: its sessions (a Redis hash each, with
// a TTL) and its per-user index (`u:<user id>`, session ids by creation time)
// are read, listed, renewed and ended by this version until they age out.

const DAY = 86_400_000

/** A session as 0.1 wrote it: the hash's fields, its idle TTL, its index entry. */
async function legacySession (world: World, keyPrefix: string, userId: string, ttlMs: number, extra: Record<string, string> = {}) {
  const skey = generateSkey()
  const id = sessionIdOf(skey)
  const now = Date.now()
  const key = `${keyPrefix}s:${id}`
  await world.redis.hset(key, {
    p: 'wechat',
    a: 'wx0000000000legacy',
    o: `o-${userId}`,
    c: String(now),
    x: String(now + 30 * DAY),
    d: 'iPhone; CPU iPhone OS 16_0 like Mac OS X',
    usr: JSON.stringify({ id: userId, role: 'member' }),
    sk: 'tiihtNczf5v6AKRyjwEUhQ==',
    ...extra
  })
  await world.redis.pexpire(key, ttlMs)
  await world.redis.zadd(`${keyPrefix}u:${userId}`, now, id)
  return { skey, id, key }
}

async function app (world: World): Promise<{ app: FastifyInstance, keyPrefix: string }> {
  const keyPrefix = world.subPrefix('upgrade')
  return { app: await world.build({ keyPrefix }), keyPrefix }
}

test('a 0.1 session is served, listed beside new ones and keeps its secrets', async (t) => {
  const world = new World(t, 'upgrade-read')
  const { app: instance, keyPrefix } = await app(world)
  const legacy = await legacySession(world, keyPrefix, 'u-legacy', 7 * DAY)
  const me = await world.call(instance, 'GET', '/auth/session', undefined, legacy.skey)
  t.equal(me.statusCode, 200)
  t.same(me.json.user, { id: 'u-legacy', role: 'member' })
  t.equal(me.json.session.device, 'iPhone; CPU iPhone OS 16_0 like Mac OS X')
  t.equal((await instance.sessions.get(legacy.skey))!.secrets.sessionKey, 'tiihtNczf5v6AKRyjwEUhQ==')
  const created = await instance.sessions.create({ provider: 'wechat', appId: 'wx0000000000legacy', openId: 'o-u-legacy' }, { user: { id: 'u-legacy' } })
  t.same((await instance.sessions.list('u-legacy')).map(({ id }) => id), [created.session.id, legacy.id], 'both, newest first')
})

test('a 0.1 session past half its idle TTL is renewed in place, as a hash', async (t) => {
  const world = new World(t, 'upgrade-renew')
  const { app: instance, keyPrefix } = await app(world)
  // The default ttl is 7 days: 3 days left is past half.
  const legacy = await legacySession(world, keyPrefix, 'u-renew', 3 * DAY)
  t.equal((await world.call(instance, 'GET', '/auth/session', undefined, legacy.skey)).statusCode, 200)
  for (let i = 0; i < 50 && await world.redis.pttl(legacy.key) < 6 * DAY; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  t.ok(await world.redis.pttl(legacy.key) > 6 * DAY, 'its TTL is a full idle TTL again')
  t.equal(await world.redis.type(legacy.key), 'hash')
})

test('ending 0.1 sessions: a logout leaves a tombstone, logout-all and a ban reach the old index too', async (t) => {
  const world = new World(t, 'upgrade-end')
  const { app: instance, keyPrefix } = await app(world)
  const one = await legacySession(world, keyPrefix, 'u-end', 7 * DAY)
  t.equal((await world.call(instance, 'DELETE', '/auth/session', undefined, one.skey)).statusCode, 204)
  t.equal((await world.call(instance, 'GET', '/auth/session', undefined, one.skey)).json.code, 'MPA_SESSION_REVOKED')
  t.equal(await world.redis.zcard(`${keyPrefix}u:u-end`), 0, 'its old index entry is gone')

  const [a, b] = [await legacySession(world, keyPrefix, 'u-all', 7 * DAY), await legacySession(world, keyPrefix, 'u-all', 7 * DAY)]
  const all = await world.call(instance, 'DELETE', '/auth/sessions', undefined, a.skey)
  t.same(all.json, { revoked: 2 })
  t.equal((await world.call(instance, 'GET', '/auth/session', undefined, b.skey)).json.code, 'MPA_SESSION_REVOKED')

  const banned = await legacySession(world, keyPrefix, 'u-ban', 7 * DAY)
  t.same(await instance.sessions.ban('u-ban'), [banned.id])
  t.equal((await world.call(instance, 'GET', '/auth/session', undefined, banned.skey)).json.code, 'MPA_SESSION_BANNED')
})

test('a 0.1 session whose key has no TTL left, or no creation time, is no session', async (t) => {
  const world = new World(t, 'upgrade-broken')
  const { app: instance, keyPrefix } = await app(world)
  const legacy = await legacySession(world, keyPrefix, 'u-broken', 7 * DAY)
  await world.redis.persist(legacy.key)
  t.equal((await world.call(instance, 'GET', '/auth/session', undefined, legacy.skey)).json.code, 'MPA_SESSION_EXPIRED', 'no TTL: 0.1 never wrote one without')
  const headless = await legacySession(world, keyPrefix, 'u-headless', 7 * DAY, { c: '' })
  t.equal((await world.call(instance, 'GET', '/auth/session', undefined, headless.skey)).json.code, 'MPA_SESSION_EXPIRED')
})
