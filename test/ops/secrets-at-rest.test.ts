import { test } from 'tap'
import type { Redis } from 'ioredis'
import { PlatformsWorld } from '../helpers/platforms.js'

// What a Redis dump (a backup, a replica, an ACL that lets too much through)
// gives away: no raw skey, no upstream secret (session_key, WeChat's access
// token, Alipay's access and refresh tokens) — they are sealed with the app's
// secretKeys — and no latest session_key of an openid once its user's
// sessions are all gone.

const WECHAT = { appId: 'wx0000000000dump', appSecret: 'dump-secret-0000000000000000000000' }
const OPEN_ID = 'oDump000000000000000000000001'

/** Every key under `prefix` and what it holds, as text: what `redis-cli --rdb` would give away. */
async function dumpOf (redis: Redis, prefix: string): Promise<string> {
  let text = ''
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    for (const key of keys) {
      const type = await redis.type(key)
      text += `${key}\n`
      if (type === 'string') text += await redis.get(key)
      else if (type === 'hash') text += JSON.stringify(await redis.hgetall(key))
      else if (type === 'zset') text += JSON.stringify(await redis.zrange(key, '0', '-1'))
      else text += `(${type})`
      text += '\n'
    }
  } while (cursor !== '0')
  return text
}

test('a Redis dump holds no skey and no usable upstream secret; logout-all leaves no session_key behind', async (t) => {
  const world = await PlatformsWorld.create(t, 'dump', WECHAT, '2021000000000dump')
  const app = await world.build()
  const wechat = await app.inject({ method: 'POST', url: '/auth/wechat/login', payload: { code: world.wechat.issueCode({ openId: OPEN_ID, phone: '13800138000' }) } })
  t.equal(wechat.statusCode, 200)
  const skey = wechat.json().skey as string
  // The phone number takes WeChat's access token, which is kept in Redis for every instance.
  const phone = await app.inject({ method: 'POST', url: '/auth/wechat/phone', headers: { 'x-skey': skey }, payload: { code: world.wechat.phoneCode(OPEN_ID) } })
  t.equal(phone.statusCode, 200)
  const alipay = await app.inject({ method: 'POST', url: '/auth/alipay/login', payload: { authCode: world.alipay.issueAuthCode() } })
  t.equal(alipay.statusCode, 200)

  const issued = [...world.wechat.secrets(), ...world.alipay.secrets()].filter((secret) => secret !== WECHAT.appSecret)
  t.ok(issued.length >= 4, `the platforms issued session_keys and tokens (${issued.length})`)
  const dump = await dumpOf(world.redis, world.prefix)
  t.match(dump, /box1\./, 'sealed secrets are there')
  t.match(dump, /wechat:sk:/, 'and the openid\'s latest session_key, sealed too')
  t.same(issued.filter((secret) => dump.includes(secret)), [], 'none of them in clear')
  t.same([skey, alipay.json().skey].filter((key) => dump.includes(key)), [], 'nor a raw skey')

  // Logout-all ends the openid's last session: its latest session_key goes with it.
  t.equal((await app.inject({ method: 'DELETE', url: '/auth/sessions', headers: { 'x-skey': skey } })).statusCode, 200)
  const after = await dumpOf(world.redis, world.prefix)
  t.notMatch(after, /wechat:sk:/, 'no latest session_key record of the openid')
  world.assertNoSecrets(t)
})
