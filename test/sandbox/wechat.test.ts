import { test, type Test } from 'tap'
import { createDecipheriv, createHash, createHmac } from 'node:crypto'
import { request } from 'undici'
import { createWechatSandbox, encryptData, signRawData, type WechatSandbox } from '../../sandbox/wechat.js'
import { VECTOR } from '../helpers/wechat.js'

const APP = 'wx0123456789abcdef'
const SECRET = 'sandbox-test-secret-0123456789ab'

interface Answer {
  status: number
  contentType: string
  text: string
  json: Record<string, any>
}

async function answer (sandbox: WechatSandbox, method: 'GET' | 'POST', path: string, values: Record<string, unknown>): Promise<Answer> {
  const query = method === 'GET' ? `?${new URLSearchParams(values as Record<string, string>)}` : ''
  const response = await request(`${sandbox.url}${path}${query}`, {
    method,
    ...(method === 'POST' ? { body: JSON.stringify(values), headers: { 'content-type': 'application/json' } } : {})
  })
  const text = await response.body.text()
  let json: Record<string, any> = {}
  try {
    json = JSON.parse(text)
  } catch {}
  return { status: response.statusCode, contentType: String(response.headers['content-type']), text, json }
}

const code2session = (sandbox: WechatSandbox, code: string, secret = SECRET, appid = APP) =>
  answer(sandbox, 'GET', '/sns/jscode2session', { appid, secret, js_code: code, grant_type: 'authorization_code' })
const stableToken = (sandbox: WechatSandbox, extra: Record<string, unknown> = {}) =>
  answer(sandbox, 'POST', '/cgi-bin/stable_token', { grant_type: 'client_credential', appid: APP, secret: SECRET, ...extra })
const classicToken = (sandbox: WechatSandbox) =>
  answer(sandbox, 'GET', '/cgi-bin/token', { grant_type: 'client_credential', appid: APP, secret: SECRET })
const checkSession = (sandbox: WechatSandbox, token: string, openid: string, sessionKey: string) =>
  answer(sandbox, 'GET', '/wxa/checksession', {
    access_token: token, openid, sig_method: 'hmac_sha256', signature: createHmac('sha256', sessionKey).update('').digest('hex').toUpperCase()
  })

function decrypt (payload: { encryptedData: string, iv: string }, sessionKey: string): Record<string, any> {
  const decipher = createDecipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), Buffer.from(payload.iv, 'base64'))
  return JSON.parse(Buffer.concat([decipher.update(Buffer.from(payload.encryptedData, 'base64')), decipher.final()]).toString('utf8'))
}

async function sandboxWithClock (t: Test): Promise<{ sandbox: WechatSandbox, clock: { ms: number } }> {
  const clock = { ms: Date.UTC(2026, 0, 1) }
  const sandbox = await createWechatSandbox({ apps: { [APP]: SECRET }, now: () => clock.ms })
  t.teardown(() => sandbox.close())
  return { sandbox, clock }
}

test('encryptData reproduces WeChat\'s published test vector', async (t) => {
  t.equal(encryptData(VECTOR.plaintext, VECTOR.sessionKey, VECTOR.iv).encryptedData, VECTOR.encryptedData)
  const decrypted = decrypt(VECTOR, VECTOR.sessionKey)
  t.equal(decrypted.nickName, 'Band')
  t.equal(decrypted.watermark.appid, VECTOR.appId)
  t.equal(signRawData('{"a":1}', VECTOR.sessionKey), createHash('sha1').update('{"a":1}' + VECTOR.sessionKey).digest('hex'))
})

test('jscode2session: single-use codes that expire after 5 minutes, unionid only when bound', async (t) => {
  const { sandbox, clock } = await sandboxWithClock(t)
  const code = sandbox.issueCode({ openId: 'o-alice', unionId: 'u-alice' })
  t.match(code, /^[0-9A-Za-z]{32}$/, 'codes are 32 characters of [0-9A-Za-z], as WeChat\'s')
  const first = await code2session(sandbox, code)
  t.same(Object.keys(first.json).sort(), ['openid', 'session_key', 'unionid'])
  t.equal(first.json.openid, 'o-alice')
  t.equal(first.json.unionid, 'u-alice')
  t.equal(Buffer.from(first.json.session_key, 'base64').length, 16)
  t.equal(first.json.session_key, sandbox.sessionKeyOf('o-alice'))
  t.equal((await code2session(sandbox, code)).json.errcode, 40163, 'a used code')
  t.match((await code2session(sandbox, code)).json.errmsg, /^code been used, rid: /)

  const bob = await code2session(sandbox, sandbox.issueCode({ openId: 'o-bob' }))
  t.notOk('unionid' in bob.json, 'no unionid when the user has none')

  const late = sandbox.issueCode({ openId: 'o-carol' })
  clock.ms += 5 * 60_000
  t.equal((await code2session(sandbox, late)).json.errcode, 40029, 'an expired code')
  t.equal((await code2session(sandbox, 'no-such-code')).json.errcode, 40029, 'an unknown code')
  const unencoded = await request(`${sandbox.url}/sns/jscode2session?appid=${APP}&secret=${SECRET}&grant_type=authorization_code&js_code=${sandbox.issueCode({ openId: 'o-dan' })}`)
  t.equal((await unencoded.body.json() as { openid: string }).openid, 'o-dan', 'such a code survives without URL encoding')
  t.equal(sandbox.calls('jscode2session'), 7)
})

test('jscode2session: app credentials', async (t) => {
  const { sandbox } = await sandboxWithClock(t)
  const code = sandbox.issueCode({ openId: 'o-alice' })
  t.equal((await code2session(sandbox, code, 'wrong-secret')).json.errcode, 40125)
  t.equal((await code2session(sandbox, code, SECRET, 'wx-unknown')).json.errcode, 40013)
  t.equal((await code2session(sandbox, code)).json.openid, 'o-alice', 'a refused exchange does not use up the code')
  t.throws(() => sandbox.issueCode({ openId: 'o' }, 'wx-unknown'), /unknown app/)
  sandbox.addApp('wx-second', 'second-secret')
  t.equal((await code2session(sandbox, sandbox.issueCode({ openId: 'o-eve' }, 'wx-second'), 'second-secret', 'wx-second')).json.openid, 'o-eve')
  t.same(sandbox.secrets().slice(0, 2), [SECRET, 'second-secret'])
})

test('each wx.login rotates the session_key: checksession accepts only the latest', async (t) => {
  const { sandbox } = await sandboxWithClock(t)
  const { access_token: token } = (await stableToken(sandbox)).json
  const first = (await code2session(sandbox, sandbox.issueCode({ openId: 'o-alice' }))).json.session_key
  t.equal((await checkSession(sandbox, token, 'o-alice', first)).json.errcode, 0)
  const second = (await code2session(sandbox, sandbox.issueCode({ openId: 'o-alice' }))).json.session_key
  t.not(second, first)
  t.equal((await checkSession(sandbox, token, 'o-alice', first)).json.errcode, 87009, 'the older key stops working')
  t.equal((await checkSession(sandbox, token, 'o-alice', second)).json.errcode, 0)
  t.equal((await checkSession(sandbox, token, 'o-nobody', second)).json.errcode, 40003)
  t.ok(sandbox.secrets().includes(first) && sandbox.secrets().includes(second) && sandbox.secrets().includes(token))
})

test('stable_token: the same token while valid, a new one near expiry or when forced', async (t) => {
  const { sandbox, clock } = await sandboxWithClock(t)
  const first = (await stableToken(sandbox)).json
  t.equal(first.expires_in, 7200)
  const again = (await stableToken(sandbox)).json
  t.equal(again.access_token, first.access_token)
  sandbox.issueCode({ openId: 'o-alice' })
  const key = sandbox.sessionKeyOf('o-alice')

  clock.ms += 7200_000 - 4 * 60_000
  const renewed = (await stableToken(sandbox)).json
  t.not(renewed.access_token, first.access_token, 'a new token in the last 5 minutes')
  t.equal((await checkSession(sandbox, first.access_token, 'o-alice', key)).json.errcode, 0, 'the old one still works until it expires')
  clock.ms += 4 * 60_000
  t.equal((await checkSession(sandbox, first.access_token, 'o-alice', key)).json.errcode, 42001, 'then it has expired')

  const forced = (await stableToken(sandbox, { force_refresh: true })).json
  t.not(forced.access_token, renewed.access_token)
  t.equal((await checkSession(sandbox, renewed.access_token, 'o-alice', key)).json.errcode, 40001, 'forcing invalidates the previous token')
  t.equal(sandbox.forcedRefreshes, 1)
  t.equal((await stableToken(sandbox, { secret: 'wrong' })).json.errcode, 40125)
  t.equal((await answer(sandbox, 'POST', '/cgi-bin/stable_token', { appid: APP, secret: SECRET })).json.errcode, 40002)
  t.equal(sandbox.calls('stable_token'), 6)
})

test('cgi-bin/token: each call replaces the previous token, which lives 5 more minutes; stable tokens are unaffected', async (t) => {
  const { sandbox, clock } = await sandboxWithClock(t)
  sandbox.issueCode({ openId: 'o-alice' })
  const key = sandbox.sessionKeyOf('o-alice')
  const stable = (await stableToken(sandbox)).json.access_token
  const first = (await classicToken(sandbox)).json.access_token
  const second = (await classicToken(sandbox)).json.access_token
  t.not(second, first)
  t.equal((await checkSession(sandbox, first, 'o-alice', key)).json.errcode, 0)
  clock.ms += 5 * 60_000
  t.equal((await checkSession(sandbox, first, 'o-alice', key)).json.errcode, 42001)
  t.equal((await checkSession(sandbox, second, 'o-alice', key)).json.errcode, 0)
  t.equal((await checkSession(sandbox, stable, 'o-alice', key)).json.errcode, 0)
  t.equal((await answer(sandbox, 'GET', '/wxa/checksession', { openid: 'o-alice' })).json.errcode, 41001)
  t.equal(sandbox.calls('token'), 2)
})

test('getuserphonenumber and the encrypted payloads the client gets', async (t) => {
  const { sandbox } = await sandboxWithClock(t)
  const token = (await stableToken(sandbox)).json.access_token
  sandbox.issueCode({ openId: 'o-alice', unionId: 'u-alice', phone: '13800138000', profile: { nickName: 'Ann 🐼' } })
  sandbox.issueCode({ openId: 'o-bob', phone: { purePhoneNumber: '4155550100', countryCode: 1 } })
  sandbox.issueCode({ openId: 'o-nophone' })
  const phone = (path: string, code: string) => answer(sandbox, 'POST', `${path}?access_token=${token}`, { code })

  const code = sandbox.phoneCode('o-alice')
  const alice = (await phone('/wxa/business/getuserphonenumber', code)).json
  t.same(alice.phone_info, { phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: '86', watermark: alice.phone_info.watermark })
  t.equal(alice.phone_info.watermark.appid, APP)
  t.equal((await phone('/wxa/business/getuserphonenumber', code)).json.errcode, 40029, 'a phone code is single use')
  const bob = (await phone('/wxa/business/getuserphonenumber', sandbox.phoneCode('o-bob'))).json.phone_info
  t.equal(bob.countryCode, 1, 'a numeric country code stays a number, as WeChat has sent it')
  t.equal(bob.phoneNumber, '+14155550100')
  t.throws(() => sandbox.phoneCode('o-nophone'), /no phone/)
  t.throws(() => sandbox.userInfo('o-stranger'), /never logged in/)

  const key = sandbox.sessionKeyOf('o-alice')
  const info = sandbox.userInfo('o-alice')
  const decrypted = decrypt(info, key)
  t.same(decrypted, info.userInfo)
  t.equal(decrypted.nickName, 'Ann 🐼', '4-byte UTF-8 survives')
  t.equal(decrypted.unionId, 'u-alice')
  t.equal(decrypted.watermark.appid, APP)
  t.equal(info.signature, signRawData(info.rawData, key))
  t.notOk(JSON.parse(info.rawData).openId, 'rawData holds the public profile only')
  t.equal(decrypt(sandbox.phoneData('o-alice'), key).purePhoneNumber, '13800138000')
})

test('fault injection per endpoint, counted like any call', async (t) => {
  const { sandbox } = await sandboxWithClock(t)
  const code = sandbox.issueCode({ openId: 'o-alice' })
  sandbox.fail('jscode2session', { errcode: -1, times: 2 })
  t.equal((await code2session(sandbox, code)).json.errcode, -1)
  t.equal((await code2session(sandbox, code)).json.errcode, -1)
  t.equal((await code2session(sandbox, code)).json.openid, 'o-alice', 'faults run out, and did not use up the code')

  sandbox.fail('stable_token', { errcode: 45011, errmsg: 'slow down' })
  t.match((await stableToken(sandbox)).json, { errcode: 45011, errmsg: /^slow down, rid: / })
  sandbox.fail('stable_token', { textPlain: true })
  const plain = await stableToken(sandbox)
  t.equal(plain.contentType, 'text/plain')
  t.ok(plain.json.access_token, 'a normal answer, served as text/plain')
  sandbox.fail('stable_token', { malformed: true })
  const malformed = await stableToken(sandbox)
  t.throws(() => JSON.parse(malformed.text), SyntaxError)
  sandbox.fail('stable_token', { httpStatus: 503 })
  const gateway = await stableToken(sandbox)
  t.equal(gateway.status, 503)
  t.match(gateway.contentType, /text\/html/)
  sandbox.fail('stable_token', { delayMs: 150 })
  const started = Date.now()
  t.ok((await stableToken(sandbox)).json.access_token)
  t.ok(Date.now() - started >= 140, 'delayed')
  t.equal(sandbox.calls('stable_token'), 5)

  sandbox.fail('checksession', { errcode: 40001, times: Infinity })
  sandbox.clearFaults()
  t.equal((await answer(sandbox, 'GET', '/wxa/checksession', {})).json.errcode, 41001, 'cleared')
  t.throws(() => sandbox.fail('nope' as 'token', {}), /no endpoint/)
  t.match(await answer(sandbox, 'GET', '/elsewhere', {}), { status: 200, json: { errcode: 40066 } }, 'an unknown path: errcode 40066, not a 404')
})
