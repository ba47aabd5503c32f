import { test } from 'tap'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import { SessionStore, type Identity } from '../../index.js'
import { sessionIdOf } from '../../lib/skey.js'
import { commandsOn, monitorRedis, writesOf } from '../helpers/monitor.js'
import { keyOf } from '../helpers/keys.js'
import { deleteKeys, sharedRedis, testRedis, type Teardown } from '../helpers/redis.js'

/**
 * A prefix as short as the default 'mpa:', random enough not to meet another
 * run's, whose keys are deleted when `t` ends.
 */
function ownShortPrefix (t: Teardown, redis: Redis): string {
  let prefix = 'mpa:'
  while (prefix === 'mpa:') prefix = randomBytes(3).toString('base64url').slice(0, 3) + ':'
  t.teardown(() => deleteKeys(redis, prefix))
  return prefix
}

const wechatIdentity: Identity = { provider: 'wechat', appId: 'wx4f4bc4dec97d474b', openId: 'oGZUI0egBJY1zhBYw2KhdUfwVJJE', unionId: 'ocMvos6NjeKLIBqg5Mr9QjxrP1FA' }

test('create and get round-trip the session, with secrets kept server-side', async (t) => {
  const { redis, prefix } = testRedis(t, 'roundtrip')
  const store = new SessionStore(redis, { keyPrefix: prefix })
  const created = await store.create(wechatIdentity, { user: { id: 'u1', role: 'member' }, secrets: { sessionKey: 'tiihtNczf5v6AKRyjwEUhQ==' }, device: 'x'.repeat(100) })
  t.match(created.skey, /^[A-Za-z0-9_-]{43}$/)
  t.equal(created.session.id, sessionIdOf(created.skey))

  const session = await store.get(created.skey)
  t.ok(session)
  t.same(session!.user, { id: 'u1', role: 'member' })
  t.equal(session!.provider, 'wechat')
  t.equal(session!.appId, wechatIdentity.appId)
  t.equal(session!.openId, wechatIdentity.openId)
  t.equal(session!.unionId, wechatIdentity.unionId)
  t.equal(session!.device, 'x'.repeat(48), 'device is shortened')
  t.equal(session!.secrets.sessionKey, 'tiihtNczf5v6AKRyjwEUhQ==')
  t.notMatch(JSON.stringify(session), /tiihtNczf5v6AKRyjwEUhQ==/, 'secrets are not enumerable')
  t.notMatch(JSON.stringify(created), /tiihtNczf5v6AKRyjwEUhQ==/)
  t.ok(session!.expiresAt > Date.now() + 6.9 * 86_400_000, 'default idle ttl is 7 days')
  t.ok(session!.absoluteExpiresAt > Date.now() + 29.9 * 86_400_000, 'default maxAge is 30 days')

  t.equal(await store.get('A'.repeat(43)), null, 'an unknown skey has no session')
  t.equal(await store.get('not an skey'), null)
})

test('skeys are unique, and neither keys nor values in Redis hold a raw skey', async (t) => {
  const { redis, prefix: keyPrefix } = testRedis(t, 'noraw')
  const store = new SessionStore(redis, { keyPrefix })
  const skeys = new Set<string>()
  for (let i = 0; i < 20; i++) {
    const { skey } = await store.create({ provider: 'alipay', appId: '2021000000000001', openId: `open${i % 4}` }, { user: { id: `user${i % 4}` }, secrets: { accessToken: `at${i}`, refreshToken: `rt${i}` } })
    skeys.add(skey)
  }
  t.equal(skeys.size, 20)

  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000)
    cursor = next
    keys.push(...batch)
  } while (cursor !== '0')
  t.equal(keys.length, 24, '20 sessions and 4 user indexes')
  let dump = keys.join('\n')
  for (const key of keys) {
    const type = await redis.type(key)
    if (type === 'string') dump += await redis.get(key)
    else if (type === 'zset') dump += JSON.stringify(await redis.zrange(key, 0, '-1', 'WITHSCORES'))
    else t.fail(`unexpected key type ${type}`)
  }
  for (const skey of skeys) t.notOk(dump.includes(skey), 'no raw skey in Redis')
  for (const skey of skeys) t.ok(dump.includes(sessionIdOf(skey)), 'sessions are named by the skey hash')
})

test('a session stays small in Redis', async (t) => {
  const redis = sharedRedis(t)
  // A prefix as long as the default 'mpa:' (the test prefixes are longer than
  // anyone's in production, and the key name counts in MEMORY USAGE), yet
  // unique to this run, and deleted with its keys at the end.
  const keyPrefix = ownShortPrefix(t, redis)
  t.equal(keyPrefix.length, 'mpa:'.length)
  const store = new SessionStore(redis, { keyPrefix })
  const { skey, session } = await store.create(wechatIdentity, {
    user: { id: `wechat:${wechatIdentity.appId}:${wechatIdentity.openId}` },
    secrets: { sessionKey: 'tiihtNczf5v6AKRyjwEUhQ==' },
    device: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 MicroMessenger/8.0.44'
  })
  const bytes = await redis.memory('USAGE', keyOf(store, 's', session.id)) as number
  t.comment(`a WeChat session with unionid, session_key and device uses ${bytes} bytes of Redis memory`)
  t.ok(bytes <= 340, `session memory ${bytes} B is within the README's 340 B`)
  await store.revoke(skey)
})

test('the idle TTL is renewed lazily: one write per half TTL, none in between', async (t) => {
  const { redis, prefix: keyPrefix } = testRedis(t, 'renew')
  const watcher = sharedRedis(t)
  const monitor = await monitorRedis(watcher)
  t.teardown(() => monitor.stop())
  const store = new SessionStore(redis, { keyPrefix, ttl: '2s', maxAge: '1h' })
  const { skey } = await store.create(wechatIdentity, { user: { id: 'renew' } })
  await monitor.settle()
  const afterCreate = monitor.commands.length

  for (let i = 0; i < 10; i++) t.ok(await store.get(skey))
  await monitor.settle()
  let ours = commandsOn(monitor.commands.slice(afterCreate), keyPrefix)
  t.same(writesOf(ours), [], 'ten fresh reads write nothing')
  t.same(ours.map(([name]) => String(name).toLowerCase()), Array(10).fill('mget'), 'each read is one command: the record and (no cache here) the issued-before mark')

  await sleep(1100) // past half the TTL
  const mark = monitor.commands.length
  const readAt = Date.now()
  // Concurrent requests that all cross the half-TTL mark share one renewal.
  const [renewed] = await Promise.all(Array.from({ length: 5 }, () => store.get(skey)))
  for (let i = 0; i < 5; i++) t.ok(await store.get(skey))
  await monitor.settle()
  ours = commandsOn(monitor.commands.slice(mark), keyPrefix)
  // The renewal script (EVALSHA, or EVAL the first time Redis sees it), and what it ran.
  const renewals = ours.filter(([name]) => /^eval(sha)?$/i.test(String(name)))
  t.equal(renewals.length, 1, 'exactly one renewal write')
  t.equal(renewals[0]![3], keyOf(store, 's', sessionIdOf(skey)), 'of the session')
  t.ok(Number(renewals[0]![5]) >= readAt + 2000, 'to the full TTL')
  t.same(ours.filter(([name]) => /^(setrange|pexpireat)$/i.test(String(name))).map(([name]) => String(name).toLowerCase()), ['setrange', 'pexpireat'], 'its expiry, in place')
  t.ok(renewed!.expiresAt >= readAt + 2000, 'the reply already shows the renewed expiry')

  await sleep(2100) // unused for longer than the TTL
  t.equal(await store.get(skey), null, 'an idle session expires')
})

test('the absolute maxAge ends a session however much it is used', async (t) => {
  const { redis, prefix } = testRedis(t, 'abs')
  const store = new SessionStore(redis, { keyPrefix: prefix, ttl: '1s', maxAge: '1600ms' })
  const { skey, session } = await store.create(wechatIdentity, { user: { id: 'abs' } })
  t.equal(session.absoluteExpiresAt - session.createdAt, 1600)
  // Used every 150 ms until 200 ms before maxAge, on the session's clock (it
  // started before create() answered). A read answered after maxAge (a busy
  // machine stalls a test process) may find it ended: that is the maxAge.
  while (Date.now() < session.absoluteExpiresAt - 200) {
    const live = await store.get(skey)
    if (live === null && Date.now() >= session.absoluteExpiresAt) break
    t.ok(live, 'alive while used')
    t.ok(live!.expiresAt <= live!.absoluteExpiresAt + 5, 'renewal never passes maxAge')
    await sleep(150)
  }
  await sleep(Math.max(0, session.absoluteExpiresAt - Date.now()) + 50)
  t.equal(await store.get(skey), null, 'ended at maxAge')
})

test('per-user cap evicts the oldest sessions', async (t) => {
  const { redis, prefix } = testRedis(t, 'cap')
  const store = new SessionStore(redis, { keyPrefix: prefix, maxPerUser: 3 })
  const skeys: string[] = []
  for (let i = 0; i < 5; i++) {
    skeys.push((await store.create(wechatIdentity, { user: { id: 'capped' } })).skey)
    await sleep(2) // distinct createdAt scores
  }
  const other = await store.create(wechatIdentity, { user: { id: 'someone-else' } })
  t.equal(await store.get(skeys[0]!), null, 'oldest evicted')
  t.equal(await store.get(skeys[1]!), null, 'second oldest evicted')
  for (const skey of skeys.slice(2)) t.ok(await store.get(skey), 'newest three live')
  t.ok(await store.get(other.skey), 'other users untouched')
  const listed = await store.list('capped')
  t.same(listed.map((s) => s.id), skeys.slice(2).reverse().map(sessionIdOf), 'listed newest first')
  t.equal(await redis.zcard(keyOf(store, 'u', '{capped}')), 3, 'the index holds only live sessions')
})

test('revoke, revokeById, revokeUser and lazy pruning of the index', async (t) => {
  const { redis, prefix } = testRedis(t, 'revoke')
  const store = new SessionStore(redis, { keyPrefix: prefix })
  const make = async (id: string | number) => (await store.create(wechatIdentity, { user: { id } })).skey
  const [a, b, c, d] = [await make(7), await make(7), await make(7), await make(7)]

  t.equal(await store.revoke(a), true)
  t.equal(await store.revoke(a), false, 'revoking twice is harmless')
  t.equal(await store.revoke('bad'), false)
  t.equal(await store.get(a), null)
  t.equal((await store.list(7)).length, 3, 'revoke drops the index entry')

  t.equal(await store.revokeById(7, sessionIdOf(b)), true)
  t.equal(await store.revokeById('someone-else', sessionIdOf(c)), false, 'only the owner can revoke by id')
  t.ok(await store.get(c))

  // An entry whose session is missing is left alone while it is young (a
  // login in flight writes the index first), and pruned once it is old (its
  // session expired on its own).
  await redis.del(keyOf(store, 's', sessionIdOf(c)))
  t.same((await store.list(7)).map((s) => s.id), [sessionIdOf(d)], 'a missing session is not listed')
  t.equal(await redis.zcard(keyOf(store, 'u', '{7}')), 2, 'a young entry is kept')
  await redis.zadd(keyOf(store, 'u', '{7}'), Date.now() - store.storeTimeoutMs - 6000, `${sessionIdOf(c)}:wechat`)
  t.same((await store.list(7)).map((s) => s.id), [sessionIdOf(d)])
  t.equal(await redis.zcard(keyOf(store, 'u', '{7}')), 1, 'an old stale entry is pruned')

  const e = await make(7)
  t.equal(await store.revokeUser(7), 2)
  t.equal(await store.get(d), null)
  t.equal(await store.get(e), null)
  t.same(await store.list(7), [])
  t.equal(await store.revokeUser(7), 0)
})

test('revoke({ userId, except }): every device but one; { userId } with last: the named one after the others', async (t) => {
  const { redis, prefix } = testRedis(t, 'revoke-except')
  const store = new SessionStore(redis, { keyPrefix: prefix })
  const make = async () => (await store.create(wechatIdentity, { user: { id: 'u-except' } })).session.id
  const [kept, other1, other2] = [await make(), await make(), await make()]
  t.same((await store.revoke({ userId: 'u-except', except: kept })).sort(), [other1, other2].sort())
  t.same((await store.list('u-except')).map(({ id }) => id), [kept], 'the one excepted is left')
  const another = await make()
  t.same(await store.revoke({ userId: 'u-except' }, { last: kept }), [another, kept], 'the last one named is ended last')
})

test('a login racing the device list, revoke-all or the cap stays indexed, so it can be revoked', async (t) => {
  const { redis, prefix } = testRedis(t, 'race')
  const store = new SessionStore(redis, { keyPrefix: prefix, maxPerUser: 3 })
  const indexed = async (uid: string, id: string) => (await redis.zscore(keyOf(store, 'u', `{${uid}}`), `${id}:wechat`)) !== null
  let unindexed = 0
  let survivors = 0
  for (let round = 0; round < 40; round++) {
    const [listed] = await Promise.all([store.create(wechatIdentity, { user: { id: 'lister' } }), store.list('lister')])
    if (!await indexed('lister', listed.session.id)) unindexed++

    const [raced] = await Promise.all([store.create(wechatIdentity, { user: { id: 'leaver' } }), store.revokeUser('leaver')])
    if (await store.get(raced.skey)) {
      survivors++ // the login came after the revoke-all: it must still be revocable
      if (!await indexed('leaver', raced.session.id)) unindexed++
      await store.revokeUser('leaver')
      t.equal(await store.get(raced.skey), null, 'the next revoke-all ends it')
    }

    const [a, b] = await Promise.all([1, 2].map(() => store.create(wechatIdentity, { user: { id: 'capped' } })))
    for (const created of [a!, b!]) {
      if (await store.get(created.skey) && !await indexed('capped', created.session.id)) unindexed++
    }
  }
  t.equal(unindexed, 0, 'no live session ever dropped out of its index')
  t.comment(`${survivors} of 40 logins raced past a revoke-all and were revoked by the next one`)
  t.ok((await store.list('capped')).length <= 3, 'the cap holds')
})

test('options are validated with messages naming the option', async (t) => {
  const { redis, prefix } = testRedis(t, 'options')
  t.throws(() => new SessionStore(redis, { ttl: 'soon' }), /session\.ttl/)
  t.throws(() => new SessionStore(redis, { ttl: -5 }), /session\.ttl/)
  t.throws(() => new SessionStore(redis, { maxAge: '1x' }), /session\.maxAge/)
  t.throws(() => new SessionStore(redis, { ttl: '2d', maxAge: '1d' }), /session\.maxAge must not be shorter/)
  t.throws(() => new SessionStore(redis, { maxPerUser: 0 }), /session\.maxPerUser/)
  t.throws(() => new SessionStore(redis, { maxPerUser: 2.5 }), /session\.maxPerUser/)
  t.throws(() => new SessionStore(redis, { storeTimeout: '0s' }), /session\.storeTimeout/)
  t.equal(new SessionStore(redis, { ttl: 1 / 3 }).ttlMs, 334, 'fractions round up to whole milliseconds (Redis PX takes integers)')
  t.throws(() => new SessionStore(redis, { keyPrefix: 5 as unknown as string }), /keyPrefix/)
  const store = new SessionStore(redis, { keyPrefix: prefix, ttl: 3600, maxAge: '12h', storeTimeout: '500ms' })
  t.equal(store.ttlMs, 3_600_000)
  t.equal(store.maxAgeMs, 43_200_000)
  t.equal(store.storeTimeoutMs, 500)
  await t.rejects(store.create(wechatIdentity, { user: { name: 'no id' } as never }), { code: 'MPA_MISCONFIGURED', statusCode: 500 })
  await t.rejects(store.create(wechatIdentity, { user: { id: '' } }), { code: 'MPA_MISCONFIGURED' })
})
