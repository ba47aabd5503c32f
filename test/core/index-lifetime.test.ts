import { test } from 'tap'
import { SessionStore, type Identity } from '../../index.js'
import { testRedis } from '../helpers/redis.js'

const DAY_MS = 86_400_000
const identity: Identity = { provider: 'wechat', appId: 'wx-lifetime', openId: 'o-lifetime' }

test('two instances with different maxAge (a rolling deploy that lowers it): the index never shrinks', async (t) => {
  const { redis, prefix: keyPrefix } = testRedis(t, 'index-lifetime')
  const before = new SessionStore(redis, { keyPrefix, maxAge: '30d' })
  const after = new SessionStore(redis, { keyPrefix, ttl: '1d', maxAge: '1d' })
  const old = await before.create(identity, { user: { id: 'u-1' } })
  const young = await after.create(identity, { user: { id: 'u-1' } })
  const indexTtl = await redis.pttl(`${keyPrefix}u:{u-1}`)
  t.ok(indexTtl > 29 * DAY_MS, `the index lives as long as the 30-day session (${Math.round(indexTtl / DAY_MS)} days)`)
  await before.create(identity, { user: { id: 'u-1' } })
  t.ok(await redis.pttl(`${keyPrefix}u:{u-1}`) > 29 * DAY_MS, 'and a later login of the longer instance keeps it so')
  t.equal(await after.revokeUser('u-1'), 3, 'log out everywhere from the new instance ends the old sessions too')
  t.equal(await before.get(old.skey), null)
  t.equal(await after.get(young.skey), null)
})

test('the reported expiry never passes the absolute expiry', async (t) => {
  const { redis, prefix: keyPrefix } = testRedis(t, 'abs-clamp')
  // An idle TTL longer than what is left of the absolute lifetime: Redis
  // holds the key longer than the session may live.
  const store = new SessionStore(redis, { keyPrefix, ttl: '1h', maxAge: '1h' })
  const { skey, session } = await store.create(identity, { user: { id: 'u-2' } })
  await redis.pexpire(`${keyPrefix}s:${session.id}`, 2 * 3_600_000)
  for (let i = 0; i < 20; i++) {
    const read = (await store.get(skey))!
    t.ok(read.expiresAt <= read.absoluteExpiresAt, `read ${i}: expiresAt ${read.expiresAt} ≤ absoluteExpiresAt ${read.absoluteExpiresAt}`)
  }
  const [listed] = await store.list('u-2')
  t.ok(listed!.expiresAt <= listed!.absoluteExpiresAt, 'in the device list too')
})

test('the cap evicts the oldest even within one millisecond, and never the session just created', async (t) => {
  const { redis, prefix: keyPrefix } = testRedis(t, 'cap-ties')
  const store = new SessionStore(redis, { keyPrefix, maxPerUser: 3 })
  let oldestSurvived = 0
  let newestEvicted = 0
  for (let user = 0; user < 100; user++) {
    const created = []
    for (let i = 0; i < 4; i++) created.push(await store.create(identity, { user: { id: `tie-${user}` } }))
    if (await store.get(created[0]!.skey) !== null) oldestSurvived++
    if (await store.get(created[3]!.skey) === null) newestEvicted++
  }
  t.equal(oldestSurvived, 0, 'the first of four quick logins is the one evicted, every time')
  t.equal(newestEvicted, 0, 'a login never hands out an skey it evicted itself')
})
