import { test } from 'tap'
import { isDeepStrictEqual } from 'node:util'
import { randomBytes } from 'node:crypto'
import { SecretBox } from '../../lib/secret-box.js'
import {
  decodeLegacyRecord, decodeRecord, defaultUserIdOf, encodeSession, expiryDigits, tombstone, userIdOf, withUser, type NewSession
} from '../../store/session-record.js'
import type { AuthUser, Identity, Session, SessionSecrets } from '../../types.js'

// The session record codec, on its own: what is written is what is read back,
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

const ID = 'session-id-22-chars-xx'
const clear = new SecretBox(undefined)

function roundTrip (session: NewSession, box = clear) {
  const record = encodeSession(ID, session, EXPIRES, box)
  const read = decodeRecord(ID, record, box)
  if (read?.state !== 'live') throw new Error('not a live record')
  // `fields`: the record as stored, for the checks of what Redis holds.
  return { fields: { record }, decoded: read.session, idleExpiresAt: read.idleExpiresAt }
}

test('encode then decode gives the session back', async (t) => {
  const user = { id: 'u1', role: 'member', tags: ['a', 'b'] }
  const { fields, decoded, idleExpiresAt } = roundTrip(newSession(wechat, user, { sessionKey: SESSION_KEY }, IPHONE))
  t.match(fields.record, /^2\|\d{13}\|\{/, 'one string: a live record, its idle expiry, its JSON')
  t.equal(idleExpiresAt, EXPIRES)
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
  t.ok(Object.isFrozen(decoded) && Object.isFrozen(decoded.user), 'read-only: a cached session is shared by every request')
})

test('secrets sealed with the app\'s keys: none in the record, opened on read, rotated without loss', async (t) => {
  const secrets = { sessionKey: SESSION_KEY, accessToken: 'authusrB-access-0123456789' }
  const k1 = randomBytes(32)
  const before = new SecretBox([{ id: 'k1', key: k1 }])
  const { fields, decoded } = roundTrip(newSession(alipayBoth, { id: 'u' }, secrets), before)
  for (const value of Object.values(secrets)) t.notOk(fields.record.includes(value), 'no secret in the record')
  t.match(fields.record, /"s":"box1\.k1\./, 'a box named by its key')
  t.same(decoded.secrets, secrets, 'opened when read')

  const secretsOf = (record: string, id: string, box: SecretBox) => {
    const read = decodeRecord(id, record, box)
    return read?.state === 'live' ? read.session.secrets : null
  }
  // A new key first, the old one still listed: old records open, new ones are sealed with the new key.
  const rotated = new SecretBox([{ id: 'k2', key: randomBytes(32) }, { id: 'k1', key: k1.toString('base64') }])
  t.same(secretsOf(fields.record, ID, rotated), secrets, 'a record sealed with the old key opens after the rotation')
  t.match(roundTrip(newSession(alipayBoth, { id: 'u' }, secrets), rotated).fields.record, /"s":"box1\.k2\./, 'new records use the new key')
  t.same(secretsOf(fields.record, 'another-id-22-chars-x', before), {}, 'a box moved into another session\'s record opens to nothing')
  t.same(secretsOf(fields.record, ID, new SecretBox([{ id: 'k1', key: randomBytes(32) }])), {}, 'nor under another key of the same id')
  t.same(secretsOf(fields.record, ID, clear), {}, 'without keys, a sealed secret is not read')
  t.same(secretsOf(roundTrip(newSession(wechat, { id: 'u' }, { sessionKey: SESSION_KEY })).fields.record, ID, before), { sessionKey: SESSION_KEY },
    'a record written before keys were set still opens')
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
    t.notOk(fields.record.includes(user.id), `${identity.provider}: the user id ${user.id} is not stored`)
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
    t.ok(holdsJson(JSON.stringify((JSON.parse(fields.record.slice(16)) as { u: unknown }).u), user), `${name}: stored in the record`)
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

test('a tombstone says why a session ended; nothing, or what is not ours, is no session', async (t) => {
  for (const reason of ['revoked', 'replaced', 'banned'] as const) t.same(decodeRecord(ID, tombstone(reason), clear), { state: 'ended', reason })
  t.equal(decodeRecord(ID, null, clear), null, 'GET of a missing key')
  t.equal(decodeRecord(ID, 't|?', clear), null, 'an end of no known reason')
  t.equal(decodeRecord(ID, 'something else', clear), null, 'not a record of ours')
  t.equal(tombstone('revoked').length, 3, 'a tombstone is three bytes')
})

test('a renewal rewrites only the 13 digits of the idle expiry; updateUser the user, never its id', async (t) => {
  const { fields } = roundTrip(newSession(wechat, { id: 'u1', role: 'member' }))
  const renewed = `${fields.record.slice(0, 2)}${expiryDigits(EXPIRES + 5000)}${fields.record.slice(15)}`
  t.equal((decodeRecord(ID, renewed, clear) as { idleExpiresAt: number }).idleExpiresAt, EXPIRES + 5000)
  const updated = withUser(fields.record, { id: 'u1', role: 'admin' })!
  t.same((decodeRecord(ID, updated, clear) as { session: Session }).session.user, { id: 'u1', role: 'admin' })
  t.equal((decodeRecord(ID, updated, clear) as { idleExpiresAt: number }).idleExpiresAt, EXPIRES, 'the expiry kept')
  t.throws(() => withUser(fields.record, { id: 'u2' }), /cannot change the user id/)
  t.equal(withUser(tombstone('revoked'), { id: 'u1' }), null, 'an ended session is not rewritten')
})

test('a record of 0.1 (a hash) reads as the same session', async (t) => {
  const hash = { p: 'wechat', a: wechat.appId, o: wechat.openId!, n: wechat.unionId!, c: String(CREATED), x: String(ABSOLUTE), sk: SESSION_KEY, usr: '{"id":"u1","role":"member"}', d: 'iPhone' }
  const read = decodeLegacyRecord(ID, hash, 60_000, CREATED + 1000, clear)
  t.match(read, { state: 'live', idleExpiresAt: CREATED + 61_000, session: { provider: 'wechat', openId: wechat.openId, user: { id: 'u1', role: 'member' }, device: 'iPhone' } })
  t.same((read as { session: Session }).session.secrets, { sessionKey: SESSION_KEY })
  t.equal(decodeLegacyRecord(ID, {}, -2, CREATED, clear), null, 'HGETALL of a missing key')
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
  t.throws(() => encodeSession(ID, newSession(wechat, { name: 'no id' } as unknown as AuthUser), EXPIRES, clear), { code: 'MPA_MISCONFIGURED' }, 'encoding refuses such a user too')
})
