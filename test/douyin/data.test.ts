import t, { test } from 'tap'
import { encryptData } from '../../sandbox/wechat.js'
import { APP_ID, DouyinWorld } from '../helpers/douyin.js'

const world = await DouyinWorld.create(t, 'douyin-data')
const { sandbox } = world
const app = await world.build()

test('userinfo: decrypted, signature verified', async (t) => {
  const { skey } = await world.login(app, { openId: 'o-alice', unionId: 'u-alice', anonymousOpenId: 'd-alice', profile: { nickName: '抖音 用户 🎵' } })
  const info = sandbox.userInfo('o-alice')
  const reply = await world.post(app, '/auth/douyin/userinfo', { encryptedData: info.encryptedData, iv: info.iv, rawData: info.rawData, signature: info.signature }, skey)
  t.equal(reply.statusCode, 200)
  t.same(reply.json, info.userInfo)
  t.equal(reply.json.nickName, '抖音 用户 🎵')
  t.equal((await world.post(app, '/auth/douyin/userinfo', { encryptedData: info.encryptedData, iv: info.iv }, skey)).statusCode, 200, 'rawData and signature are optional')
  const opened = await app.douyin.openForSession((await app.sessions.get(skey))!, info.encryptedData, info.iv)
  t.same(opened, { data: info.userInfo, sessionKey: sandbox.sessionKeyOf('o-alice') }, 'fastify.douyin opens data for the app\'s own routes')
})

test('userinfo: tampered rawData, a watermark of another app, a mangled payload', async (t) => {
  const { skey } = await world.login(app, { openId: 'o-bob', anonymousOpenId: 'd-bob' })
  const info = sandbox.userInfo('o-bob')
  const tampered = await world.post(app, '/auth/douyin/userinfo', { ...info, rawData: info.rawData.replace('Sandbox User', 'Mallory') }, skey)
  t.match(tampered.json, { statusCode: 400, code: 'MPA_SIGNATURE_MISMATCH' })
  const key = sandbox.sessionKeyOf('o-bob')
  const foreign = encryptData({ openId: 'o-bob', watermark: { appid: 'tt-some-other-app', timestamp: 1 } }, key)
  t.match((await world.post(app, '/auth/douyin/userinfo', foreign, skey)).json, { statusCode: 403, code: 'MPA_WATERMARK_MISMATCH' })
  const flipped = Buffer.from(info.encryptedData, 'base64')
  flipped[flipped.length - 1]! ^= 0x55
  t.match((await world.post(app, '/auth/douyin/userinfo', { encryptedData: flipped.toString('base64'), iv: info.iv }, skey)).json,
    { statusCode: 401, code: 'MPA_SESSION_KEY_EXPIRED' }, 'a tampered ciphertext does not open')
  t.match((await world.post(app, '/auth/douyin/userinfo', { ...info, encryptedData: info.encryptedData.replaceAll('+', ' ') + 'A+AA' }, skey)).json,
    { statusCode: 400, code: 'MPA_BAD_ENCRYPTED_DATA' })
  t.match((await world.post(app, '/auth/douyin/userinfo', { ...info, iv: 'AAAA' }, skey)).json, { code: 'MPA_BAD_ENCRYPTED_DATA', message: /iv must be 16 bytes/ })
})

test('data without a watermark is refused: Douyin\'s docs show one in user info and phone data, as WeChat\'s', async (t) => {
  const unmarked = await DouyinWorld.create(t, 'douyin-data-unmarked', { watermark: false })
  const plain = await unmarked.build()
  const { skey } = await unmarked.login(plain, { openId: 'o-carol', anonymousOpenId: 'd-carol', phone: '13800138000' })
  const info = unmarked.sandbox.userInfo('o-carol')
  t.notOk('watermark' in info.userInfo)
  const reply = await unmarked.post(plain, '/auth/douyin/userinfo', info, skey)
  t.match([reply.statusCode, reply.json], [403, { code: 'MPA_WATERMARK_MISMATCH' }])
  const phone = await unmarked.post(plain, '/auth/douyin/phone', unmarked.sandbox.phoneData('o-carol'), skey)
  t.match([phone.statusCode, phone.json], [403, { code: 'MPA_WATERMARK_MISMATCH' }])
  unmarked.assertNoSecrets(t)
})

test('phone: mainland and foreign numbers; data that holds none; a body with extra fields', async (t) => {
  const { skey } = await world.login(app, { openId: 'o-dave', anonymousOpenId: 'd-dave', phone: '13800138000' })
  const reply = await world.post(app, '/auth/douyin/phone', sandbox.phoneData('o-dave'), skey)
  t.equal(reply.statusCode, 200)
  t.same(reply.json, { phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: '86' })

  const foreign = await world.login(app, { openId: 'o-erin', anonymousOpenId: 'd-erin', phone: { purePhoneNumber: '5550100', countryCode: 1 } })
  t.same((await world.post(app, '/auth/douyin/phone', sandbox.phoneData('o-erin'), foreign.skey)).json,
    { phoneNumber: '+15550100', purePhoneNumber: '5550100', countryCode: '1' }, 'a numeric countryCode comes back a string')

  const noPhone = encryptData({ nickName: 'x', watermark: { appid: APP_ID, timestamp: 1 } }, sandbox.sessionKeyOf('o-dave'))
  t.match((await world.post(app, '/auth/douyin/phone', noPhone, skey)).json, { statusCode: 400, code: 'MPA_BAD_ENCRYPTED_DATA', message: /holds no phone number/ })
  t.equal((await world.post(app, '/auth/douyin/phone', { ...sandbox.phoneData('o-dave'), code: 'x' }, skey)).json.code, 'FST_ERR_VALIDATION',
    'no code-based phone API here: a body with a code is refused')
})

test('a rotated session_key: stale data gets a clear 401, every session of the openid opens current data', async (t) => {
  const user = { openId: 'o-frank', anonymousOpenId: 'd-frank', phone: '13900139000' }
  const older = await world.login(app, user)
  const captured = sandbox.phoneData('o-frank')
  const newer = await world.login(app, user)
  t.match((await world.post(app, '/auth/douyin/phone', captured, newer.skey)).json, { statusCode: 401, code: 'MPA_SESSION_KEY_EXPIRED', message: /log in again/ })
  t.equal((await world.post(app, '/auth/douyin/phone', captured, older.skey)).statusCode, 200, 'the session that got the older key still opens data under it')
  t.equal((await world.post(app, '/auth/douyin/phone', sandbox.phoneData('o-frank'), older.skey)).statusCode, 200, 'and current data, with the latest key')
  sandbox.login(user) // tt.login on the device without reaching us
  t.equal((await world.post(app, '/auth/douyin/userinfo', sandbox.userInfo('o-frank'), newer.skey)).json.code, 'MPA_SESSION_KEY_EXPIRED')
})

test('the routes need a Douyin session', async (t) => {
  const both = await world.build({ douyin: world.app(), alipay: undefined })
  const { skey } = await both.sessions.create({ provider: 'wechat', appId: 'wx1', openId: 'o-wechat' }, { user: { id: 'w' } })
  t.match((await world.post(both, '/auth/douyin/phone', { encryptedData: 'AAAA', iv: 'AAAA' }, skey)).json, { statusCode: 403, code: 'MPA_WRONG_PROVIDER' })
  t.match((await world.post(both, '/auth/douyin/userinfo', { encryptedData: 'AAAA', iv: 'AAAA' })).json, { statusCode: 401, code: 'MPA_SKEY_MISSING' })
})

test('no session_key, app secret or skey in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})
