import { test } from 'tap'
import { isDeepStrictEqual } from 'node:util'
import {
  absoluteExpiryOf, decodeSession, defaultUserIdOf, encodeSession, isSessionRecord, userIdOf, userOf, type NewSession
} from '../../store/session-record.js'
import type { AuthUser, Identity, SessionSecrets } from '../../types.js'

// The session hash codec, on its own: what is written is what is read back,
// without Redis in between.

const CREATED = 1_700_000_000_000
const ABSOLUTE = CREATED + 30 * 86_400_000
const EXPIRES = CREATED + 7 * 86_400_000
const SESSION_KEY = 'tiihtNczf5v6AKRyjwEUhQ=='
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 MicroMessenger/8.0.44'

const wechat: Identity = { provider: 'wechat', appId: 'wx4f4bc4dec97d474b', openId: 'oGZUI0egBJY1zhBYw2KhdUfwVJJE', unionId: 'ocMvos6NjeKLIBqg5Mr9QjxrP1FA' }
const alipayUserIdOnly: Identity = { provider: 'alipay', appId: '2021000000000001', alipayUserId: '2088000000000009' }
const alipayBoth: Identity = { provider: 'alipay', appId: '2021000000000001', openId: '074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5', alipayUserId: '2088000000000009' }

function newSession (identity: Identity, user: AuthUser, secrets: SessionSecrets = {}, device?: string): NewSession {
  return { identity, user, secrets, device, createdAt: CREATED, absoluteExpiresAt: ABSOLUTE }
}

function holdsJson (value: string, expected: unknown): boolean {
  try {
    return isDeepStrictEqual(JSON.parse(value), expected)
  } catch {
    return false
  }
}

function roundTrip (session: NewSession) {
  const fields = encodeSession(session)
  return { fields, decoded: decodeSession('session-id-22-chars-xx', fields, EXPIRES) }
}

test('encode then decode gives the session back', async (t) => {
  const user = { id: 'u1', role: 'member', tags: ['a', 'b'] }
  const { fields, decoded } = roundTrip(newSession(wechat, user, { sessionKey: SESSION_KEY }, IPHONE))
  t.ok(Object.values(fields).every((value) => typeof value === 'string'), 'a Redis hash: string values only')
  t.same({ ...decoded }, {
    id: 'session-id-22-chars-xx',
    provider: 'wechat',
    appId: wechat.appId,
    openId: wechat.openId,
    unionId: wechat.unionId,
    user,
    device: 'iPhone; CPU iPhone OS 17_0 like Mac OS X',
    createdAt: CREATED,
    expiresAt: EXPIRES,
    absoluteExpiresAt: ABSOLUTE
  })
  t.same(decoded.secrets, { sessionKey: SESSION_KEY })
  t.equal(isSessionRecord(fields), true)
  t.equal(absoluteExpiryOf(fields), ABSOLUTE)
  t.same(userOf(fields), user)
})

test('optional parts that were not given are absent, not empty', async (t) => {
  const { decoded } = roundTrip(newSession({ provider: 'wechat', appId: 'wx1', openId: 'o1' }, { id: 'u' }))
  for (const field of ['unionId', 'alipayUserId', 'device']) t.notOk(field in decoded, `no ${field}`)
  t.same(decoded.secrets, {}, 'no secrets')
})

test('the default user is rebuilt from the identity, not stored twice', async (t) => {
  for (const identity of [wechat, alipayUserIdOnly, alipayBoth]) {
    const user = { id: defaultUserIdOf(identity) }
    const { fields, decoded } = roundTrip(newSession(identity, user))
    t.same(decoded.user, user, `${identity.provider}: the same user comes back`)
    const stored = Object.values(fields).join('\n')
    t.notOk(stored.includes(user.id), `${identity.provider}: the user id ${user.id} is not among the stored values`)
  }
  t.equal(defaultUserIdOf(wechat), `wechat:${wechat.appId}:${wechat.openId}`)
  t.equal(defaultUserIdOf(alipayUserIdOnly), 'alipay:2021000000000001:2088000000000009', 'the user_id when there is no open_id')
  t.equal(defaultUserIdOf(alipayBoth), `alipay:2021000000000001:${alipayBoth.openId}`, 'the open_id first')
})

test('a custom user is stored as given, numeric ids and extra fields included', async (t) => {
  const users: Array<[string, AuthUser]> = [
    ['another string id', { id: 'user-42' }],
    ['a numeric id', { id: 42 }],
    ['id zero', { id: 0 }],
    ['the default id with extra fields', { id: defaultUserIdOf(wechat), role: 'admin' }],
    ['nested fields', { id: 'u', profile: { nickName: '小明 🐼', city: null } }]
  ]
  for (const [name, user] of users) {
    const { fields, decoded } = roundTrip(newSession(wechat, user))
    t.same(decoded.user, user, name)
    t.ok(Object.values(fields).some((value) => holdsJson(value, user)), `${name}: stored in the record`)
  }
  t.equal(roundTrip(newSession(wechat, { id: 42 })).decoded.user.id, 42, 'a number stays a number')
})

test('secrets: readable by server code, invisible to JSON and enumeration', async (t) => {
  const secrets = { accessToken: 'authusrB-access-0123456789', refreshToken: 'authusrB-refresh-0123456789' }
  const { decoded } = roundTrip(newSession(alipayBoth, { id: 'u' }, secrets))
  t.same(decoded.secrets, secrets)
  t.notOk(Object.keys(decoded).includes('secrets'), 'not an own enumerable key')
  t.same({ ...decoded }.secrets, undefined, 'not copied by spreading')
  const json = JSON.stringify(decoded)
  for (const value of Object.values(secrets)) t.notOk(json.includes(value), 'JSON.stringify shows no secret')
  const wechatJson = JSON.stringify(roundTrip(newSession(wechat, { id: 'u' }, { sessionKey: SESSION_KEY })).decoded)
  t.notOk(wechatJson.includes(SESSION_KEY), 'nor the session_key')
  t.same(roundTrip(newSession(wechat, { id: 'u' }, { sessionKey: '' })).decoded.secrets, {}, 'an empty secret is not kept')
})

test('the Alipay user_id has a field of its own', async (t) => {
  const userIdOnly = roundTrip(newSession(alipayUserIdOnly, { id: 'u' })).decoded
  t.equal(userIdOnly.alipayUserId, '2088000000000009')
  t.notOk('openId' in userIdOnly, 'no open_id invented')
  const both = roundTrip(newSession(alipayBoth, { id: 'u' })).decoded
  t.same([both.openId, both.alipayUserId], [alipayBoth.openId, alipayBoth.alipayUserId], 'both ids kept apart')
})

test('the device is stored as its short label', async (t) => {
  const cases: Array<[string, string]> = [
    [IPHONE, 'iPhone; CPU iPhone OS 17_0 like Mac OS X'],
    ['x'.repeat(100), 'x'.repeat(48)],
    ['curl/8.4.0', 'curl/8.4.0']
  ]
  for (const [userAgent, label] of cases) t.equal(roundTrip(newSession(wechat, { id: 'u' }, {}, userAgent)).decoded.device, label, label)
  t.notOk('device' in roundTrip(newSession(wechat, { id: 'u' }, {}, '')).decoded, 'an empty User-Agent is no device')
})

test('isSessionRecord: an empty or foreign hash is no session', async (t) => {
  t.equal(isSessionRecord({}), false, 'HGETALL of a missing key')
  t.equal(isSessionRecord({ usr: '{"id":"u"}', p: 'wechat' }), false, 'no creation time')
})

test('userIdOf: a usable id, or MPA_MISCONFIGURED naming resolveUser', async (t) => {
  const good: Array<[AuthUser, string]> = [
    [{ id: 'u' }, 'u'],
    [{ id: 'x'.repeat(256) }, 'x'.repeat(256)],
    [{ id: 42 }, '42'],
    [{ id: 0 }, '0'],
    [{ id: -1.5 }, '-1.5']
  ]
  for (const [user, id] of good) t.equal(userIdOf(user), id, JSON.stringify(user).slice(0, 30))

  const bad: unknown[] = [
    {}, { id: '' }, { id: 'x'.repeat(257) }, { id: NaN }, { id: Infinity }, { id: null }, { id: true },
    { id: { nested: 1 } }, { id: ['u'] }, { id: 10n }, null, undefined, 'u', 42
  ]
  for (const user of bad) {
    const label = String(JSON.stringify(user, (_key, value: unknown) => typeof value === 'bigint' ? `${value}n` : value))
    t.throws(() => userIdOf(user as AuthUser), {
      code: 'MPA_MISCONFIGURED', statusCode: 500, message: /resolveUser must return an object with an id/
    }, label.slice(0, 30))
  }
  t.throws(() => encodeSession(newSession(wechat, { name: 'no id' } as unknown as AuthUser)), { code: 'MPA_MISCONFIGURED' }, 'encoding refuses such a user too')
})
