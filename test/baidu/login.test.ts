import { createCipheriv } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { test } from 'tap'
import type { Identity } from '../../index.js'
import { baiduAppsOf } from '../../providers/baidu/options.js'
import { decryptBaidu } from '../../providers/baidu/open-data.js'
import { createBaiduSandbox, sealBaiduData, type BaiduSandboxFault } from '../../sandbox/baidu.js'
import { checkFaults } from '../helpers/upstream-faults.js'
import { World } from '../helpers/world.js'

// Baidu smart programs through the real HTTP client against the Baidu sandbox
// and a real Redis: swan.getLoginCode → POST /baidu/login → a session; codes
// replayed, used, made up; upstream faults; a refused app; Baidu's own
// open-data decryption (AES-192, the App Key at the end).

const APP_KEY = '4fecoAqgCIUtzIyA4FAPgoyrc4oUc25c'
const SECRET = 'baidu-secret-0123456789abcdef'
const sandbox = await createBaiduSandbox({ apps: { [APP_KEY]: SECRET } })
t.teardown(() => sandbox.close())
const world = new World(t, 'baidu-login')
world.watch(() => sandbox.secrets())
const baidu = { appId: APP_KEY, appSecret: SECRET, baseUrl: sandbox.url, timeout: '1s' }
const identities: Identity[] = []
const app = await world.build({ baidu, resolveUser: (identity) => { identities.push(identity); return { id: `u-${identity.openId}` } } })
const calls = () => sandbox.calls('jscode2sessionkey')
const post = (code: string, on = app) => world.post(on, '/auth/baidu/login', { code })

test('swan.getLoginCode → POST /baidu/login → a Baidu session with its 24-byte session_key; a replay gets the same answer', async (t) => {
  const { code } = sandbox.login({ openId: 'o-alice', phone: '13900000001' })
  const reply = await post(code)
  t.equal(reply.statusCode, 200)
  t.same(identities, [{ provider: 'baidu', surface: 'miniprogram', appId: APP_KEY, openId: 'o-alice' }])
  const key = (await app.sessions.get(reply.json.skey))?.secrets.sessionKey
  t.equal(key, sandbox.sessionKeyOf('o-alice'))
  t.equal(Buffer.from(key!, 'base64').length, 24, 'an AES-192 key')
  const before = calls()
  t.same((await post(code)).json, reply.json, 'the replay: the same skey, no upstream call')
  t.equal(calls(), before)
})

test('a used or made-up code: 401 MPA_CODE_INVALID (invalid_grant)', async (t) => {
  const used = sandbox.login({ openId: 'o-used' }).code
  t.equal((await post(used)).statusCode, 200)
  const elsewhere = await world.build({ baidu, keyPrefix: world.subPrefix() })
  t.match((await post(used, elsewhere)).json, { statusCode: 401, code: 'MPA_CODE_INVALID', message: /jscode2sessionkey invalid_grant: Invalid authorization code/ })
  t.match((await post('made-up')).json, { statusCode: 401, code: 'MPA_CODE_INVALID' })
})

test('upstream faults and a refused app: each maps to its error', async (t) => {
  const login = () => post(sandbox.login({ openId: 'o-fault' }).code)
  await checkFaults<BaiduSandboxFault>(t, { world, fail: (fault) => sandbox.fail('jscode2sessionkey', fault), calls, login, secret: SECRET, fix: `Baidu refused app ${APP_KEY}: the App Key (appId) or App Secret (appSecret) is wrong; check the baidu options` }, [
    ['timeout', { delayMs: 2500 }, 504, 'MPA_UPSTREAM_TIMEOUT', undefined, 1],
    ['HTTP 500', { httpStatus: 500 }, 502, 'MPA_UPSTREAM_ERROR', /HTTP 500/, 1],
    ['a body that is not JSON', { malformed: true }, 502, 'MPA_UPSTREAM_ERROR', /not a JSON object/, 1],
    ['a parameter error', { errno: 10010100 }, 502, 'MPA_UPSTREAM_ERROR', /jscode2sessionkey 10010100/, 1],
    ['invalid_client', { error: 'invalid_client' }, 500, 'MPA_MISCONFIGURED', /^Server misconfiguration: Baidu refused app/, 1]
  ])
  const wrong = await world.build({ baidu: { ...baidu, appSecret: 'not-the-secret' } })
  t.match((await post(sandbox.login({ openId: 'o-wrong' }).code, wrong)).json, { statusCode: 500, code: 'MPA_MISCONFIGURED' }, 'the sandbox refuses a wrong sk')
  t.equal((await post(sandbox.login({ openId: 'o-after' }).code)).statusCode, 200, 'no fault left over')
})

test('user info and phone: Baidu\'s AES-192 scheme, the App Key checked, the latest session_key', async (t) => {
  const { json: { skey } } = await post(sandbox.login({ openId: 'o-carol', phone: '13900000002', nickname: '小百' }).code)
  const info = sandbox.userInfo('o-carol')
  t.same((await world.post(app, '/auth/baidu/userinfo', { encryptedData: info.encryptedData, iv: info.iv }, skey)).json, info.userInfo)
  t.same((await world.post(app, '/auth/baidu/phone', sandbox.phoneData('o-carol'), skey)).json, { phoneNumber: '13900000002', purePhoneNumber: '13900000002', countryCode: '86' })
  const key = sandbox.sessionKeyOf('o-carol')
  const otherApp = sealBaiduData({ mobile: '13900000002' }, key, 'another-app-key')
  t.match((await world.post(app, '/auth/baidu/phone', otherApp, skey)).json, { statusCode: 403, code: 'MPA_WATERMARK_MISMATCH' }, 'data for another App Key')
  t.match((await world.post(app, '/auth/baidu/phone', sealBaiduData({ nothing: 1 }, key, APP_KEY), skey)).json, { statusCode: 400, code: 'MPA_BAD_ENCRYPTED_DATA' }, 'no mobile in it')
  sandbox.login({ openId: 'o-carol', phone: '13900000002' })
  t.match((await world.post(app, '/auth/baidu/phone', sandbox.phoneData('o-carol'), skey)).json, { statusCode: 401, code: 'MPA_SESSION_KEY_EXPIRED' }, 'sealed with a key the server never saw')
})

test('decryptBaidu: what does not open is the session key\'s fault, what is malformed the client\'s', async (t) => {
  const key = Buffer.alloc(24, 7).toString('base64')
  const sealed = sealBaiduData({ a: 1 }, key, APP_KEY)
  t.same(decryptBaidu(key, sealed.encryptedData, sealed.iv, APP_KEY), { a: 1 })
  t.throws(() => decryptBaidu(Buffer.alloc(16).toString('base64'), sealed.encryptedData, sealed.iv, APP_KEY), { code: 'MPA_SESSION_KEY_EXPIRED' }, 'a 16-byte key')
  t.throws(() => decryptBaidu(key, sealed.encryptedData, 'not base64!', APP_KEY), { code: 'MPA_BAD_ENCRYPTED_DATA' })
  t.throws(() => decryptBaidu(key, sealed.encryptedData, Buffer.alloc(8).toString('base64'), APP_KEY), { code: 'MPA_BAD_ENCRYPTED_DATA' }, 'a short iv')
  t.throws(() => decryptBaidu(key, 'AAAA', sealed.iv, APP_KEY), { code: 'MPA_BAD_ENCRYPTED_DATA' }, 'not whole blocks')
  t.throws(() => decryptBaidu(Buffer.alloc(24, 8).toString('base64'), sealed.encryptedData, sealed.iv, APP_KEY), { code: 'MPA_SESSION_KEY_EXPIRED' }, 'another key')
  // Plaintexts the key opens but that are not Baidu's layout: as data under another key.
  const seal = (plain: Buffer) => {
    const iv = Buffer.alloc(16, 3)
    const cipher = createCipheriv('aes-192-cbc', Buffer.from(key, 'base64'), iv)
    return [Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64'), iv.toString('base64')] as const
  }
  const framed = (length: number, body: string) => Buffer.concat([Buffer.alloc(16, 1), Buffer.from([0, 0, 0, length]), Buffer.from(body), Buffer.from(APP_KEY)])
  for (const [what, plain] of [
    ['shorter than its header', Buffer.alloc(10, 1)],
    ['a length past the end', framed(250, '{}')],
    ['not JSON', framed(5, 'nope!')],
    ['a JSON array', framed(2, '[]')]
  ] as const) {
    t.throws(() => decryptBaidu(key, ...seal(plain), APP_KEY), { code: 'MPA_SESSION_KEY_EXPIRED' }, what)
  }
})

test('the baidu option: Baidu\'s host by default; a session_key that is no AES-192 key is a 502', async (t) => {
  t.match(baiduAppsOf({ appId: APP_KEY, appSecret: SECRET }), [{ origin: 'https://spapi.baidu.com', pathPrefix: '' }])
  await t.rejects(world.build({ baidu: { appId: APP_KEY } as never }), { message: /^baidu\.appSecret must be/ })
  // Not Baidu's: a server that answers with a WeChat-size key.
  const server = createServer((request, response) => response.end(JSON.stringify({ openid: 'o-x', session_key: Buffer.alloc(16).toString('base64') })))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const odd = await world.build({ baidu: { ...baidu, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } })
  t.match((await post('any', odd)).json, { statusCode: 502, code: 'MPA_UPSTREAM_ERROR', message: /not an AES-192 key/ })
})

test('no session_key, app secret or skey in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})
