import { test } from 'tap'
import { constants, privateDecrypt } from 'node:crypto'
import { request } from 'undici'
import { createBaiduSandbox, createDouyinSandbox, createKuaishouSandbox, createWecomSandbox, generateRsaKeyPair } from '../../sandbox/index.js'

// The WeCom, Kuaishou and Baidu sandboxes and the Douyin sandbox's open API,
// through raw HTTP: the rules docs/wecom.md, kuaishou.md, baidu.md and
// douyin.md say they keep, independent of the product's clients.

async function call (url: string, { method = 'GET', body, headers = {} }: { method?: string, body?: string, headers?: Record<string, string> } = {}) {
  const response = await request(url, { method: method as 'GET', ...(body === undefined ? {} : { body }), headers })
  const text = await response.body.text()
  let json: Record<string, any> = {}
  try {
    json = JSON.parse(text)
  } catch {}
  return { status: response.statusCode, text, json }
}
const form = (fields: Record<string, string>) => ({ method: 'POST', body: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } })

test('Kuaishou: a form body or the query string, single-use codes, result codes, a 404 elsewhere', async (t) => {
  const clock = { ms: Date.UTC(2026, 0, 1) }
  const sandbox = await createKuaishouSandbox({ apps: { ks1: 'secret-1' }, now: () => clock.ms })
  t.teardown(() => sandbox.close())
  const url = `${sandbox.url}/oauth2/mp/code2session`
  const first = sandbox.login({ openId: 'o-1' }).code
  t.match((await call(url, form({ app_id: 'ks1', app_secret: 'secret-1', js_code: first }))).json, { result: 1, open_id: 'o-1', session_key: sandbox.sessionKeyOf('o-1') })
  t.match((await call(url, form({ app_id: 'ks1', app_secret: 'secret-1', js_code: first }))).json, { result: 100200100 }, 'spent')
  const second = sandbox.login({ openId: 'o-1' }).code
  t.match((await call(`${url}?${new URLSearchParams({ app_id: 'ks1', app_secret: 'secret-1', js_code: second })}`, { method: 'POST' })).json, { result: 1 }, 'the docs\' example: parameters in the query string')
  t.match((await call(url, form({ app_id: 'ks1', app_secret: 'wrong', js_code: 'x' }))).json, { result: 100200101, error_msg: /app_secret/ })
  t.match((await call(url, form({ app_id: 'ks-unknown', app_secret: 'x', js_code: 'x' }))).json, { result: 100200101 })
  const late = sandbox.login({ openId: 'o-2' }).code
  clock.ms += 5 * 60_000
  t.match((await call(url, form({ app_id: 'ks1', app_secret: 'secret-1', js_code: late }))).json, { result: 100200100 }, 'expired after 5 minutes')
  t.equal((await call(url)).status, 404, 'a GET')
  t.equal((await call(`${sandbox.url}/elsewhere`, { method: 'POST' })).status, 404)
  t.match((await call(url, form({ app_id: 'ks1', app_secret: 'secret-1' }))).json, { result: 100200100 }, 'no js_code')
  sandbox.fail('code2session', { result: 500002 })
  t.match((await call(url, form({}))).json, { result: 500002, error_msg: 'sandbox fault' })
  t.throws(() => sandbox.fail('token' as 'code2session', {}), /no endpoint "token"/)
})

test('Baidu: a form body, OAuth errors, the documented parameter error, AES-192 sealing with the App Key', async (t) => {
  const sandbox = await createBaiduSandbox({ apps: { appKey1: 'sk-1' } })
  t.teardown(() => sandbox.close())
  const url = `${sandbox.url}/oauth/jscode2sessionkey`
  const { code } = sandbox.login({ openId: 'o-b', phone: '13500000000' })
  const reply = await call(url, form({ code, client_id: 'appKey1', sk: 'sk-1' }))
  t.same(reply.json, { openid: 'o-b', session_key: sandbox.sessionKeyOf('o-b') })
  t.equal(Buffer.from(reply.json.session_key, 'base64').length, 24)
  t.match((await call(url, form({ code, client_id: 'appKey1', sk: 'sk-1' }))).json, { error: 'invalid_grant' }, 'spent')
  t.match((await call(url, form({ code: 'x', client_id: 'appKey1', sk: 'wrong' }))).json, { error: 'invalid_client' })
  t.match((await call(url, form({ code: 'x', sk: 'sk-1' }))).json, { errno: 10010100, error: 'parameter is invalid', error_description: /ClientID/ })
  t.equal((await call(url)).status, 404, 'a GET')
  sandbox.fail('jscode2sessionkey', { error: 'invalid_grant' })
  t.match((await call(url, form({}))).json, { error: 'invalid_grant', error_description: 'sandbox fault' })
  sandbox.addApp('appKey2', 'sk-2')
  t.throws(() => sandbox.phoneData('o-b', 'appKey2'), /never logged in/)
  t.throws(() => sandbox.phoneData('o-none'), /never logged in/)
  sandbox.login({ openId: 'o-nophone' })
  t.throws(() => sandbox.phoneData('o-nophone'), /has no phone number/)
  t.match(sandbox.userInfo('o-b').userInfo, { openid: 'o-b', nickname: 'Sandbox User' })
})

test('WeCom: gettoken hands out the same token while it is valid, jscode2session checks it, WeCom\'s errcodes', async (t) => {
  const clock = { ms: Date.UTC(2026, 0, 1) }
  const sandbox = await createWecomSandbox({ corps: { ww1: 'corp-secret' }, now: () => clock.ms, accessTokenTtl: 60 })
  t.teardown(() => sandbox.close())
  const token = (corpsecret = 'corp-secret', corpid = 'ww1') => call(`${sandbox.url}/cgi-bin/gettoken?${new URLSearchParams({ corpid, corpsecret })}`)
  const session = (query: Record<string, string>) => call(`${sandbox.url}/cgi-bin/miniprogram/jscode2session?${new URLSearchParams({ grant_type: 'authorization_code', ...query })}`)
  const first = (await token()).json
  t.match(first, { errcode: 0, errmsg: 'ok', expires_in: 60 })
  t.equal((await token()).json.access_token, first.access_token, 'the same token while it is valid')
  t.match((await token('wrong')).json, { errcode: 40001 })
  t.match((await token('corp-secret', 'ww-unknown')).json, { errcode: 40013 })
  const { code } = sandbox.login({ corpId: 'ww1', userId: 'zhangsan' })
  t.match((await session({ js_code: code })).json, { errcode: 41001 }, 'no token')
  t.match((await session({ access_token: 'forged', js_code: code })).json, { errcode: 40014 })
  t.match((await session({ access_token: first.access_token })).json, { errcode: 41008 }, 'no code')
  t.match((await session({ access_token: first.access_token, js_code: code })).json, { errcode: 0, corpid: 'ww1', userid: 'zhangsan', session_key: sandbox.sessionKeyOf({ corpId: 'ww1', userId: 'zhangsan' }) })
  t.match((await session({ access_token: first.access_token, js_code: code })).json, { errcode: 40029 }, 'spent')
  clock.ms += 61_000
  t.match((await session({ access_token: first.access_token, js_code: 'x' })).json, { errcode: 42001 }, 'expired')
  t.not((await token()).json.access_token, first.access_token, 'a new token once the old one lapsed')
  t.equal((await call(`${sandbox.url}/cgi-bin/gettoken`, { method: 'POST' })).status, 404)
  t.throws(() => sandbox.login({ corpId: 'ww-unknown', userId: 'x' }), /unknown corp/)
  t.throws(() => sandbox.sessionKeyOf({ corpId: 'ww1', userId: 'nobody' }), /never logged in/)
  sandbox.addCorp('ww2', 'second')
  t.match((await token('second', 'ww2')).json, { errcode: 0 })
  const bare = await createWecomSandbox()
  t.teardown(() => bare.close())
  t.same(bare.secrets(), [], 'no corp until addCorp')
})

test('Douyin\'s open API: client_token (a new one ends the one before 5 minutes later), get_phonenumber_info (RSA-sealed, single-use codes)', async (t) => {
  const clock = { ms: Date.UTC(2026, 0, 1) }
  const sandbox = await createDouyinSandbox({ apps: { tt1: 'secret-1' }, now: () => clock.ms })
  t.teardown(() => sandbox.close())
  const keys = generateRsaKeyPair()
  t.throws(() => sandbox.phoneCode('o-1'), /never logged in/)
  sandbox.login({ openId: 'o-1', anonymousOpenId: 'a-1', phone: '13700000000' })
  t.throws(() => sandbox.phoneCode('o-1'), /no public key/)
  sandbox.setPhoneKey('tt1', keys.publicKey)
  sandbox.login({ openId: 'o-2', anonymousOpenId: 'a-2' })
  t.throws(() => sandbox.phoneCode('o-2'), /has no phone number/)
  const json = (body: object) => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
  const clientToken = async (secret = 'secret-1', clientKey = 'tt1') => (await call(`${sandbox.url}/oauth/client_token/`, json({ client_key: clientKey, client_secret: secret, grant_type: 'client_credential' }))).json
  const phone = (token: string, code: string) => call(`${sandbox.url}/api/apps/v1/get_phonenumber_info/`, { ...json({ code }), headers: { 'content-type': 'application/json', 'access-token': token } })
  const one = await clientToken()
  t.match(one, { data: { access_token: /^clt\./, error_code: 0, expires_in: 7200 }, message: 'success' })
  t.match(await clientToken('wrong'), { data: { error_code: 10013 }, message: 'error' })
  t.match(await clientToken('x', 'tt-unknown'), { data: { error_code: 10003 } })
  t.match((await call(`${sandbox.url}/oauth/client_token/`, { method: 'POST', body: 'not json' })).json, { data: { error_code: 10002 } })

  const code = sandbox.phoneCode('o-1')
  const reply = (await phone(one.data.access_token, code)).json
  t.match(reply, { err_no: 0, err_tips: 'success', log_id: /^[0-9A-F]{32}$/ })
  const block = privateDecrypt({ key: keys.privateKey, padding: constants.RSA_NO_PADDING }, Buffer.from(reply.data, 'base64'))
  t.match(JSON.parse(block.subarray(block.indexOf(0, 2) + 1).toString('utf8')), { phoneNumber: '13700000000', purePhoneNumber: '13700000000', countryCode: '86', watermark: { appid: 'tt1' } })
  t.match((await phone(one.data.access_token, code)).json, { err_no: 28005187 }, 'spent')

  const two = await clientToken()
  t.equal((await phone(one.data.access_token, sandbox.phoneCode('o-1'))).json.err_no, 0, 'the one before still works…')
  clock.ms += 5 * 60_000
  t.equal((await phone(one.data.access_token, sandbox.phoneCode('o-1'))).json.err_no, 28001003, '…for 5 minutes')
  t.equal((await phone(two.data.access_token, sandbox.phoneCode('o-1'))).json.err_no, 0)
  await clientToken()
  await clientToken()
  t.equal((await phone(two.data.access_token, sandbox.phoneCode('o-1'))).json.err_no, 28001003, 'at most two alive')
  t.equal((await phone('', 'x')).json.err_no, 28001003, 'no token')
  sandbox.fail('get_phonenumber_info', { errNo: 28001016 })
  t.match((await phone('', 'x')).json, { err_no: 28001016 })
  sandbox.fail('client_token', { errNo: 2190002 })
  t.match(await clientToken(), { data: { error_code: 2190002, description: 'sandbox fault' }, message: 'error' }, 'a fault in client_token\'s shape')
  t.equal((await call(`${sandbox.url}/oauth/client_token/`)).status, 404, 'a GET')
})
