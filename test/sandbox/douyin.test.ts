import { test, type Test } from 'tap'
import { createDecipheriv, createHash } from 'node:crypto'
import { request } from 'undici'
import { createDouyinSandbox, type DouyinSandbox } from '../../sandbox/douyin.js'

const APP = 'tt0123456789abcdef'
const SECRET = 'douyin-sandbox-secret-0123456789'
const PATH = '/api/apps/v2/jscode2session'

async function post (sandbox: DouyinSandbox, body: unknown, { method = 'POST', path = PATH }: { method?: string, path?: string } = {}): Promise<{ status: number, text: string, json: Record<string, any> }> {
  const response = await request(`${sandbox.url}${path}`, {
    method: method as 'POST',
    ...(method === 'POST' ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {})
  })
  const text = await response.body.text()
  let json: Record<string, any> = {}
  try {
    json = JSON.parse(text)
  } catch {}
  return { status: response.statusCode, text, json }
}

const exchange = (sandbox: DouyinSandbox, codes: { code?: string, anonymousCode?: string }, secret = SECRET, appid = APP) =>
  post(sandbox, { appid, secret, code: codes.code ?? '', anonymous_code: codes.anonymousCode ?? '' })

function decrypt (payload: { encryptedData: string, iv: string }, sessionKey: string): Record<string, any> {
  const decipher = createDecipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), Buffer.from(payload.iv, 'base64'))
  return JSON.parse(Buffer.concat([decipher.update(Buffer.from(payload.encryptedData, 'base64')), decipher.final()]).toString('utf8'))
}

async function sandboxWithClock (t: Test, watermark?: boolean): Promise<{ sandbox: DouyinSandbox, clock: { ms: number } }> {
  const clock = { ms: Date.UTC(2026, 0, 1) }
  const sandbox = await createDouyinSandbox({ apps: { [APP]: SECRET }, now: () => clock.ms, ...(watermark === undefined ? {} : { watermark }) })
  t.teardown(() => sandbox.close())
  return { sandbox, clock }
}

test('tt.login: a logged-in user gets a code and an anonymousCode, a guest only an anonymousCode', async (t) => {
  const { sandbox } = await sandboxWithClock(t)
  const user = sandbox.login({ openId: 'o-1', unionId: 'u-1', anonymousOpenId: 'd-1' })
  t.match(user, { code: /^[A-Za-z0-9_-]{32}$/, anonymousCode: /^[A-Za-z0-9_-]{32}$/ })
  const both = await exchange(sandbox, user)
  t.equal(both.status, 200)
  t.match(both.json, { err_no: 0, err_tips: 'success', log_id: /^[0-9A-F]{32}$/ })
  t.same(both.json.data, { session_key: sandbox.sessionKeyOf('o-1'), openid: 'o-1', unionid: 'u-1', anonymous_openid: 'd-1' })

  const guest = sandbox.login({ anonymousOpenId: 'd-2' })
  t.same(Object.keys(guest), ['anonymousCode'])
  t.same((await exchange(sandbox, guest)).json.data, { session_key: '', openid: '', unionid: '', anonymous_openid: 'd-2' }, 'what was not asked for is empty')
  const codeOnly = sandbox.login({ openId: 'o-3', anonymousOpenId: 'd-3' })
  t.same((await exchange(sandbox, { code: codeOnly.code })).json.data.anonymous_openid, '')
})

test('codes are single use, expire after 5 minutes, and belong to their app; a pair is spent only when both are good', async (t) => {
  const { sandbox, clock } = await sandboxWithClock(t)
  sandbox.addApp('tt-other', 'other-secret')
  const user = { openId: 'o-1', anonymousOpenId: 'd-1' }
  const codes = sandbox.login(user)
  t.equal((await exchange(sandbox, codes)).json.err_no, 0)
  t.match((await exchange(sandbox, codes)).json, { err_no: 40018, err_tips: 'bad code' }, 'a spent code')
  const again = sandbox.login(user)
  t.match((await exchange(sandbox, { code: again.code, anonymousCode: codes.anonymousCode })).json, { err_no: 40019 }, 'a spent anonymousCode')
  t.equal((await exchange(sandbox, again)).json.err_no, 0, 'the good code beside it was not spent')
  const late = sandbox.login(user)
  clock.ms += 5 * 60_000 - 1
  const justInTime = sandbox.login(user)
  clock.ms += 1
  t.equal((await exchange(sandbox, late)).json.err_no, 40018, 'expired at 5 minutes')
  t.equal((await exchange(sandbox, justInTime)).json.err_no, 0)
  const other = sandbox.login(user, 'tt-other')
  t.equal((await exchange(sandbox, other)).json.err_no, 40018, 'another app\'s code')
})

test('the request: app credentials, missing codes, bodies that are not JSON, other methods and paths', async (t) => {
  const { sandbox } = await sandboxWithClock(t)
  const codes = sandbox.login({ openId: 'o-1', anonymousOpenId: 'd-1' })
  t.match((await exchange(sandbox, codes, SECRET, 'tt-unknown')).json, { err_no: 40015, err_tips: 'bad appid' })
  t.match((await exchange(sandbox, codes, 'wrong')).json, { err_no: 40017, err_tips: 'bad secret' })
  t.match((await exchange(sandbox, {})).json, { err_no: 40014 })
  t.match((await post(sandbox, '{"appid":')).json, { err_no: 40014 })
  t.equal((await post(sandbox, null, { method: 'GET' })).status, 404)
  t.equal((await post(sandbox, {}, { path: '/api/apps/jscode2session' })).status, 404)
  t.equal((await exchange(sandbox, codes)).json.err_no, 0, 'refused requests spent nothing')
  t.equal(sandbox.calls('jscode2session'), 5, 'POSTs to the endpoint, refused ones included; not other paths or methods')
})

test('faults: err_no, HTTP status, malformed bodies, delays, and how many requests each covers', async (t) => {
  const { sandbox } = await sandboxWithClock(t)
  sandbox.fail('jscode2session', { errNo: 40015, times: 2 })
  t.match((await exchange(sandbox, {})).json, { err_no: 40015, err_tips: 'bad appid' })
  t.match((await exchange(sandbox, {})).json, { err_no: 40015 })
  t.match((await exchange(sandbox, {})).json, { err_no: 40014 }, 'then the real answer')
  sandbox.fail('*', { errNo: 12345, errTips: 'custom' })
  t.match((await exchange(sandbox, {})).json, { err_no: 12345, err_tips: 'custom' })
  sandbox.fail('jscode2session', { httpStatus: 502 })
  const gateway = await exchange(sandbox, {})
  t.equal(gateway.status, 502)
  t.match(gateway.text, /<html>/)
  sandbox.fail('jscode2session', { malformed: true })
  const truncated = (await exchange(sandbox, {})).text
  t.throws(() => JSON.parse(truncated))
  const codes = sandbox.login({ openId: 'o-1', anonymousOpenId: 'd-1' })
  sandbox.fail('jscode2session', { delayMs: 50 })
  t.equal((await exchange(sandbox, codes)).json.err_no, 0, 'a delayed answer is still the answer')
  t.throws(() => sandbox.fail('token' as never, {}), /no endpoint "token"/)
  sandbox.fail('jscode2session', { errNo: 1, times: Infinity })
  sandbox.clearFaults()
  t.equal((await exchange(sandbox, {})).json.err_no, 40014)
})

test('user info and phone data: encrypted under the current session_key, signed, watermarked (or not)', async (t) => {
  const { sandbox } = await sandboxWithClock(t)
  sandbox.login({ openId: 'o-1', unionId: 'u-1', anonymousOpenId: 'd-1', phone: '13800138000', profile: { nickName: 'N' } })
  const key = sandbox.sessionKeyOf('o-1')
  const info = sandbox.userInfo('o-1')
  t.same(decrypt(info, key), info.userInfo)
  t.match(info.userInfo, { openId: 'o-1', unionId: 'u-1', nickName: 'N', watermark: { appid: APP, timestamp: Date.UTC(2026, 0, 1) / 1000 } })
  t.equal(info.signature, createHash('sha1').update(info.rawData + key).digest('hex'))
  t.match(decrypt(sandbox.phoneData('o-1'), key), { phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: '86', watermark: { appid: APP } })
  sandbox.login({ openId: 'o-1', anonymousOpenId: 'd-1' })
  t.not(sandbox.sessionKeyOf('o-1'), key, 'each tt.login with a code rotates the session_key')
  t.ok(sandbox.secrets().includes(key) && sandbox.secrets().includes(SECRET), 'secrets() lists session_keys and app secrets')
  t.throws(() => sandbox.phoneData('o-1'), /no phone number/)
  t.throws(() => sandbox.userInfo('o-never'), /never logged in/)
  t.throws(() => sandbox.login({ anonymousOpenId: 'd' }, 'tt-unknown'), /unknown app/)

  const { sandbox: unmarked } = await sandboxWithClock(t, false)
  unmarked.login({ openId: 'o-2', anonymousOpenId: 'd-2', phone: '13800138000' })
  const plain = unmarked.userInfo('o-2')
  t.notOk('watermark' in decrypt(plain, unmarked.sessionKeyOf('o-2')))
  t.same(decrypt(plain, unmarked.sessionKeyOf('o-2')), plain.userInfo)
  t.notOk('watermark' in decrypt(unmarked.phoneData('o-2'), unmarked.sessionKeyOf('o-2')))
})
