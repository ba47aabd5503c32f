import tap, { test } from 'tap'
import { PlatformsWorld } from '../helpers/platforms.js'

// Every odd body on every route: a clear 4xx, never a 5xx, a hang, or a value
// coerced into something the client did not send.

const world = await PlatformsWorld.create(tap, 'bodies', { appId: 'wx0000000000bodies', appSecret: 'bodies-secret-0123456789' }, '2021000000bodies1')
const { wechat, alipay } = world
const app = await world.build()

const login = await app.inject({ method: 'POST', url: '/auth/wechat/login', payload: { code: wechat.issueCode({ openId: 'oBodies000000000000000000001' }) } })
const skey = login.json().skey as string
const info = wechat.userInfo('oBodies000000000000000000001')

const notStrings = [123, 0, true, null, ['a'], { a: 1 }]

test('login bodies: only strings, bounded, no coercion', async (t) => {
  const routes: Array<[string, string]> = [['/auth/wechat/login', 'code'], ['/auth/alipay/login', 'authCode']]
  for (const [url, field] of routes) {
    for (const value of [...notStrings, '', 'x'.repeat(129)]) {
      const res = await app.inject({ method: 'POST', url, payload: { [field]: value } })
      t.equal(res.statusCode, 400, `${url} ${field}=${JSON.stringify(value).slice(0, 20)}`)
      t.equal(res.json().code, 'FST_ERR_VALIDATION')
    }
    for (const payload of ['', 'not json', '[]', 'null', '"code"']) {
      const res = await app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json' } })
      t.equal(res.statusCode, 400, `${url} body ${JSON.stringify(payload)}`)
    }
    const form = await app.inject({ method: 'POST', url, payload: `${field}=abc`, headers: { 'content-type': 'application/x-www-form-urlencoded' } })
    t.equal(form.statusCode, 415, `${url} form-encoded`)
    t.equal((await app.inject({ method: 'POST', url, payload: { appId: 'wx', [field]: 'c', extra: 1 } })).statusCode < 500, true, `${url} with extra fields`)
  }
  t.equal(wechat.calls('jscode2session'), 1, 'none of them reached WeChat (only the setup login)')
  t.equal(alipay.calls(), 0, 'none of them reached Alipay')
  for (const scope of ['auth_admin', 1, null]) {
    const res = await app.inject({ method: 'POST', url: '/auth/alipay/login', payload: { authCode: 'abc', scope } })
    t.equal(res.statusCode, 400, `scope ${JSON.stringify(scope)}`)
  }
  const unicode = await app.inject({ method: 'POST', url: '/auth/wechat/login', payload: { code: '码🐼' } })
  t.equal(unicode.json().code, 'MPA_CODE_INVALID', 'a unicode code is only an invalid code')
})

test('encrypted-data bodies: strings of bounded size, signature with rawData', async (t) => {
  const headers = { 'x-skey': skey }
  for (const value of notStrings) {
    for (const field of ['encryptedData', 'iv']) {
      const res = await app.inject({ method: 'POST', url: '/auth/wechat/userinfo', headers, payload: { ...info, [field]: value } })
      t.equal(res.statusCode, 400, `userinfo ${field}=${JSON.stringify(value)}`)
    }
    const phone = await app.inject({ method: 'POST', url: '/auth/wechat/phone', headers, payload: { code: value } })
    t.equal(phone.statusCode, 400, `phone code=${JSON.stringify(value)}`)
  }
  const huge = await app.inject({ method: 'POST', url: '/auth/wechat/userinfo', headers, payload: { ...info, encryptedData: 'A'.repeat(20_000) } })
  t.equal(huge.statusCode, 400)
  const halfSigned = await app.inject({ method: 'POST', url: '/auth/wechat/userinfo', headers, payload: { encryptedData: info.encryptedData, iv: info.iv, signature: info.signature } })
  t.equal(halfSigned.statusCode, 400, 'a signature without rawData')
  const neither = await app.inject({ method: 'POST', url: '/auth/wechat/phone', headers, payload: {} })
  t.equal(neither.statusCode, 400, 'phone needs a code or encrypted data')
  const ok = await app.inject({ method: 'POST', url: '/auth/wechat/userinfo', headers, payload: { ...info, errMsg: 'getUserInfo:ok', cloudID: 'x' } })
  t.equal(ok.statusCode, 200, 'the whole wx.getUserInfo result, extra fields and all, is accepted')
})

test('no session_key, token, app secret or private key in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})
