import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { test } from 'tap'
import { generateRsaKeyPair } from '../../sandbox/index.js'
import { World } from '../helpers/world.js'

// Answers the sandboxes do not give, from a scripted server: what Kuaishou,
// Baidu, WeCom and Douyin's open API may send that their docs leave open
// (a result that is not a number, an errno without an error, a 4xx with a
// JSON body, a token without a lifetime), each mapped to a documented error.

const answers: Array<{ status?: number, body: object }> = []
const server = createServer((_request, response) => {
  const { status = 200, body } = answers.shift() ?? { body: {} }
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
})
server.listen(0, '127.0.0.1')
await once(server, 'listening')
t.teardown(() => server.close())
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const SECRET = 'scripted-secret-0123456789abcdef'
const world = new World(t, 'platform-answers')
world.watch(() => [SECRET])
const keys = generateRsaKeyPair()
const app = await world.build({
  kuaishou: { appId: 'ks0000000scripted', appSecret: SECRET, baseUrl },
  baidu: { appId: 'scriptedBaiduAppKey000000000001', appSecret: SECRET, baseUrl },
  wecom: { appId: 'wx00000000scripted', corpId: 'ww00000000scripted', appSecret: SECRET, baseUrl },
  douyin: { appId: 'tt00000000scripted', appSecret: SECRET, baseUrl, phonePrivateKey: keys.privateKey, openApiBaseUrl: baseUrl }
})
let codes = 0
const login = async (platform: string, ...bodies: Array<{ status?: number, body: object }>) => {
  answers.push(...bodies)
  // A code of its own each time: a refused code stays refused for the replay window.
  return (await world.post(app, `/auth/${platform}/login`, { code: `code-${++codes}` })).json
}

test('Kuaishou: results that are not numbers, the mini-games\' numbers, a 4xx with JSON', async (t) => {
  t.match(await login('kuaishou', { body: { result: 'oops', error: 'bad thing' } }), { statusCode: 502, code: 'MPA_UPSTREAM_ERROR', message: /code2session oops: bad thing/ })
  t.match(await login('kuaishou', { body: { result: 240001, error_msg: 'code 非法' } }), { statusCode: 401, code: 'MPA_CODE_INVALID' })
  t.match(await login('kuaishou', { body: { result: 240002 } }), { statusCode: 500, code: 'MPA_MISCONFIGURED' })
  t.match(world.logs.text, 'Kuaishou refused app ks0000000scripted: app_secret is wrong')
  t.match(await login('kuaishou', { status: 403, body: { result: 1, open_id: 'o', session_key: Buffer.alloc(16).toString('base64') } }), { statusCode: 502, message: /answered HTTP 403/ })
  t.match(await login('kuaishou', { body: { result: 1, open_id: 'o', session_key: 'short' } }), { statusCode: 502, message: /not an AES-128 key/ })
})

test('Baidu: an errno without an error, an errno as a string, an OAuth error of its own', async (t) => {
  t.match(await login('baidu', { body: { errno: 10010101 } }), { statusCode: 502, message: /jscode2sessionkey 10010101$/ })
  t.match(await login('baidu', { body: { errno: '42', error: '' } }), { statusCode: 502, message: /jscode2sessionkey 42$/ })
  t.match(await login('baidu', { body: { error: 'unsupported_grant_type', error_description: `nope ${SECRET}` } }), { statusCode: 502, message: /unsupported_grant_type: nope \[redacted\]/ })
  t.match(await login('baidu', { body: { errno: 0, openid: 'o-b', session_key: Buffer.alloc(24).toString('base64') } }), { skey: /^[\w-]{43}$/ }, 'errno 0 is success')
})

test('WeCom: a token without a lifetime, a reply without corpid', async (t) => {
  t.match(await login('wecom', { body: { errcode: 0, access_token: 'tok-1' } }), { statusCode: 502, message: /gettoken answered without a valid expires_in/ })
  t.match(await login('wecom', { body: { errcode: 0, access_token: 'tok-2', expires_in: 7200 } }, { body: { errcode: 0, userid: 'u' } }), { statusCode: 502, message: /answered without corpid/ })
})

test('Douyin\'s open API: a client_token without a lifetime or data, a 4xx with JSON, a reply without err_no', async (t) => {
  const { skey } = await app.sessions.create({ provider: 'douyin', appId: 'tt00000000scripted', openId: 'o-d' }, { user: { id: 'd' } })
  const phone = async (...bodies: Array<{ status?: number, body: object }>) => {
    answers.push(...bodies)
    return (await world.post(app, '/auth/douyin/phone', { code: 'a-phone-code' }, skey)).json
  }
  t.match(await phone({ body: { data: { access_token: 'clt.1', error_code: 0 } } }), { statusCode: 502, message: /client_token\/ answered without a valid expires_in/ })
  t.match(await phone({ body: { message: 'success' } }), { statusCode: 502, message: /answered without access_token/ })
  t.match(await phone({ body: { data: { access_token: 'clt.2', expires_in: 7200 } } }, { status: 403, body: { err_no: 0, data: 'x' } }), { statusCode: 502, message: /get_phonenumber_info\/ answered HTTP 403/ })
  t.match(await phone({ body: { data: 'not-rsa' } }), { statusCode: 500, code: 'MPA_MISCONFIGURED' }, 'no err_no: taken as success, and the data does not open')
})

test('no secret in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})
