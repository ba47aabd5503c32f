import t, { test } from 'tap'
import { encryptData, signRawData } from '../../sandbox/wechat.js'
import { APP_ID, VECTOR, WechatWorld } from '../helpers/wechat.js'

const world = await WechatWorld.create(t, 'wechat-data')
const { sandbox } = world
const app = await world.build()

test('decrypt with WeChat\'s published test vector', async (t) => {
  const profile = app.wechat.decrypt(VECTOR.sessionKey, VECTOR.encryptedData, VECTOR.iv, VECTOR.appId)
  t.same(profile, JSON.parse(VECTOR.plaintext))
  t.throws(() => app.wechat.decrypt(VECTOR.sessionKey, VECTOR.encryptedData, VECTOR.iv, APP_ID), { code: 'MPA_WATERMARK_MISMATCH', statusCode: 403 })

  // And through the route: a session of the sample app holding the sample session_key.
  const vectorApp = await world.build({ wechat: world.app(VECTOR.appId) })
  const { skey } = await vectorApp.sessions.create(
    { provider: 'wechat', appId: VECTOR.appId, openId: 'oGZUI0egBJY1zhBYw2KhdUfwVJJE' },
    { user: { id: 'vector-user' }, secrets: { sessionKey: VECTOR.sessionKey } }
  )
  const reply = await world.post(vectorApp, '/auth/wechat/userinfo', { encryptedData: VECTOR.encryptedData, iv: VECTOR.iv }, skey)
  t.equal(reply.statusCode, 200)
  t.match(reply.json, { nickName: 'Band', city: 'Guangzhou', unionId: 'ocMvos6NjeKLIBqg5Mr9QjxrP1FA', watermark: { appid: VECTOR.appId } })
})

test('userinfo: decrypted, signature verified, emoji intact', async (t) => {
  const { skey } = await world.login(app, 'o-alice', { unionId: 'u-alice' })
  const info = sandbox.userInfo('o-alice')
  const reply = await world.post(app, '/auth/wechat/userinfo', { encryptedData: info.encryptedData, iv: info.iv, rawData: info.rawData, signature: info.signature }, skey)
  t.equal(reply.statusCode, 200)
  t.same(reply.json, info.userInfo)
  t.equal(reply.json.openId, 'o-alice')

  const emoji = await world.login(app, 'o-emoji')
  const state = sandbox.sessionKeyOf('o-emoji')
  const data = { openId: 'o-emoji', nickName: '小明 🐼👨‍👩‍👧', watermark: { appid: APP_ID, timestamp: 1 } }
  t.equal((await world.post(app, '/auth/wechat/userinfo', encryptData(data, state), emoji.skey)).json.nickName, data.nickName)
})

test('userinfo: a bad signature, a watermark of another app, a mangled payload', async (t) => {
  const { skey } = await world.login(app, 'o-bob')
  const info = sandbox.userInfo('o-bob')
  const tampered = info.rawData.replace('Sandbox User', 'Mallory')
  t.match((await world.post(app, '/auth/wechat/userinfo', { ...info, rawData: tampered }, skey)).json, { statusCode: 400, code: 'MPA_SIGNATURE_MISMATCH' })
  t.match((await world.post(app, '/auth/wechat/userinfo', { ...info, signature: 'z'.repeat(40) }, skey)).json, { statusCode: 400, code: 'MPA_SIGNATURE_MISMATCH' })
  t.equal((await world.post(app, '/auth/wechat/userinfo', { encryptedData: info.encryptedData, iv: info.iv, rawData: info.rawData }, skey)).statusCode, 400, 'rawData without a signature')

  const key = sandbox.sessionKeyOf('o-bob')
  const foreign = encryptData({ openId: 'o-bob', watermark: { appid: 'wx-some-other-app', timestamp: 1 } }, key)
  t.match((await world.post(app, '/auth/wechat/userinfo', foreign, skey)).json, { statusCode: 403, code: 'MPA_WATERMARK_MISMATCH' })
  const unmarked = encryptData({ openId: 'o-bob' }, key)
  t.equal((await world.post(app, '/auth/wechat/userinfo', unmarked, skey)).json.code, 'MPA_WATERMARK_MISMATCH', 'no watermark at all')

  // A '+' turned into a space on the way: said so, not guessed at.
  const spaced = { encryptedData: VECTOR.encryptedData.replaceAll('+', ' '), iv: VECTOR.iv }
  t.match((await world.post(app, '/auth/wechat/userinfo', spaced, skey)).json, { statusCode: 400, code: 'MPA_BAD_ENCRYPTED_DATA', message: /'\+' was probably turned into a space/ })
  t.match((await world.post(app, '/auth/wechat/userinfo', { ...info, iv: 'r7BXXKkLb8qrSNn05n0q' }, skey)).json, { code: 'MPA_BAD_ENCRYPTED_DATA', message: /iv must be 16 bytes/ })
  t.match((await world.post(app, '/auth/wechat/userinfo', { ...info, iv: 'not*base64' }, skey)).json, { code: 'MPA_BAD_ENCRYPTED_DATA', message: /iv is not base64/ })
  t.match((await world.post(app, '/auth/wechat/userinfo', { ...info, encryptedData: 'AAAA' }, skey)).json, { code: 'MPA_BAD_ENCRYPTED_DATA', message: /multiple of 16/ })
})

test('a rotated session_key: stale data gets a clear 401, and every session of the openid decrypts with the latest key', async (t) => {
  const older = await world.login(app, 'o-carol')
  const captured = sandbox.userInfo('o-carol') // encrypted under the first key
  const newer = await world.login(app, 'o-carol') // a later wx.login rotates it
  t.not(newer.skey, older.skey)

  const stale = await world.post(app, '/auth/wechat/userinfo', captured, newer.skey)
  t.match(stale.json, { statusCode: 401, code: 'MPA_SESSION_KEY_EXPIRED', message: /log in again/ }, 'data under a key the session never had')
  const own = await world.post(app, '/auth/wechat/userinfo', captured, older.skey)
  t.equal(own.statusCode, 200, 'the session that got the older key still opens what was encrypted under it')
  for (const skey of [older.skey, newer.skey]) {
    const fresh = await world.post(app, '/auth/wechat/userinfo', sandbox.userInfo('o-carol'), skey)
    t.equal(fresh.statusCode, 200, 'current data decrypts in the older session too')
  }

  // wx.login on the device without reaching us: even the newest session holds a stale key now.
  sandbox.issueCode({ openId: 'o-carol' })
  const rotated = await world.post(app, '/auth/wechat/userinfo', sandbox.userInfo('o-carol'), newer.skey)
  t.match(rotated.json, { statusCode: 401, code: 'MPA_SESSION_KEY_EXPIRED' })
  const stored = await app.sessions.get(newer.skey)
  t.equal(await app.wechat.checkSessionKey('o-carol', stored!.secrets.sessionKey!), false, 'WeChat agrees: checksession refuses it')
  t.equal((await world.call(app, 'GET', '/me', undefined, newer.skey)).statusCode, 200, 'the skey itself still works')
})

test('phone: the getuserphonenumber code and the legacy encrypted data', async (t) => {
  const { skey } = await world.login(app, 'o-dave', { phone: '13800138000' })
  const expected = { phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: '86' }
  const byCode = await world.post(app, '/auth/wechat/phone', { code: sandbox.phoneCode('o-dave') }, skey)
  t.equal(byCode.statusCode, 200)
  t.same(byCode.json, expected)
  const legacy = await world.post(app, '/auth/wechat/phone', sandbox.phoneData('o-dave'), skey)
  t.same(legacy.json, expected)

  const used = sandbox.phoneCode('o-dave')
  await world.post(app, '/auth/wechat/phone', { code: used }, skey)
  t.match((await world.post(app, '/auth/wechat/phone', { code: used }, skey)).json, { statusCode: 400, code: 'MPA_PHONE_CODE_INVALID' })

  // The sandbox sends a numeric countryCode as a number, as WeChat has; the reply always has a string.
  const frank = await world.login(app, 'o-frank', { phone: { purePhoneNumber: '4155550101', countryCode: 1 } })
  const international = await world.post(app, '/auth/wechat/phone', { code: sandbox.phoneCode('o-frank') }, frank.skey)
  t.same(international.json, { phoneNumber: '+14155550101', purePhoneNumber: '4155550101', countryCode: '1' })
  const legacyInternational = await world.post(app, '/auth/wechat/phone', sandbox.phoneData('o-frank'), frank.skey)
  t.same(legacyInternational.json, international.json)

  const noPhone = encryptData({ watermark: { appid: APP_ID, timestamp: 1 } }, sandbox.sessionKeyOf('o-frank'))
  t.match((await world.post(app, '/auth/wechat/phone', noPhone, frank.skey)).json, { statusCode: 400, code: 'MPA_BAD_ENCRYPTED_DATA', message: /no phone number/ })
  t.equal((await world.post(app, '/auth/wechat/phone', { iv: 'x' }, skey)).statusCode, 400, 'neither a code nor a full payload')
})

test('the data routes need a WeChat session', async (t) => {
  const info = { encryptedData: VECTOR.encryptedData, iv: VECTOR.iv }
  t.match((await world.post(app, '/auth/wechat/userinfo', info)).json, { statusCode: 401, code: 'MPA_SKEY_MISSING' })
  t.match((await world.post(app, '/auth/wechat/phone', { code: 'c' })).json, { statusCode: 401, code: 'MPA_SKEY_MISSING' })
  const { skey } = await app.sessions.create({ provider: 'alipay', appId: '2021000000000000', openId: 'alipay-open-id' }, { user: { id: 'alipay-user' } })
  t.match((await world.post(app, '/auth/wechat/userinfo', info, skey)).json, { statusCode: 403, code: 'MPA_WRONG_PROVIDER', message: /wechat/ })
  t.match((await world.post(app, '/auth/wechat/phone', { code: 'c' }, skey)).json, { statusCode: 403, code: 'MPA_WRONG_PROVIDER' })
})

test('verifyRawData and decrypt on their own', async (t) => {
  const key = VECTOR.sessionKey
  t.doesNotThrow(() => app.wechat.verifyRawData('{"nickName":"Band"}', signRawData('{"nickName":"Band"}', key), key))
  t.doesNotThrow(() => app.wechat.verifyRawData('{"nickName":"Band"}', signRawData('{"nickName":"Band"}', key).toUpperCase(), key), 'hex in any case')
  t.throws(() => app.wechat.verifyRawData('{"nickName":"Band"}', signRawData('{"nickName":"Band"}', key).slice(2), key), { code: 'MPA_SIGNATURE_MISMATCH' })
  const wrongKey = Buffer.alloc(16, 7).toString('base64')
  t.throws(() => app.wechat.decrypt(wrongKey, VECTOR.encryptedData, VECTOR.iv, VECTOR.appId), { code: 'MPA_SESSION_KEY_EXPIRED', statusCode: 401 })
  t.throws(() => app.wechat.decrypt('short', VECTOR.encryptedData, VECTOR.iv, VECTOR.appId), { code: 'MPA_SESSION_KEY_EXPIRED' })
  t.throws(() => app.wechat.decrypt(key, encryptData('[1,2]', key, VECTOR.iv).encryptedData, VECTOR.iv, VECTOR.appId), { code: 'MPA_SESSION_KEY_EXPIRED' }, 'not a JSON object')
})

test('no session_key, access token or app secret in any reply or log line', async (t) => {
  world.assertNoSecrets(t, [VECTOR.sessionKey])
})
