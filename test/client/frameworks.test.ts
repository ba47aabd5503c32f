import { test, type Test } from 'tap'
import type { AlipaySandboxUser, DouyinSandboxUser, WechatSandboxUser } from '../../sandbox/index.js'
import type { AuthClient } from '../../client/index.js'
import { fakeTaro, fakeUni, type Device } from './fakes.js'
import { clientInRealm } from './realm.js'
import { clientWorld } from './world.js'

// uni-app and Taro projects: the built helper in a realm with only `uni` (or
// only `Taro`), each shaped as that framework documents it, for several
// build targets, against the real server and sandboxes.

const { world, wechatSandbox, alipaySandbox, douyinSandbox, server, expire } = await clientWorld('client-frameworks')

const wendy: WechatSandboxUser = { openId: 'oClientFramework00000000001', phone: '13700137000' }
const ali: AlipaySandboxUser = { openId: '074a1d3d00000000000framework', profile: { nickName: 'Frame' } }
const dou: DouyinSandboxUser = { anonymousOpenId: 'aClientFrameworkDevice00001', openId: 'dClientFramework00000000001' }

const loginBodies = (device: Device) => device.sent.filter((s) => s.url.endsWith('/login')).map((s) => JSON.parse(s.body!) as Record<string, string>)

/** Login, a request, a JSON body, a re-login once the session expired: what every target must do. */
async function roundTrip (t: Test, client: AuthClient, device: Device, expireSession: (skey: string) => Promise<unknown>, body: 'string' | 'object') {
  const { skey, user } = await client.login()
  t.match(await client.request({ url: '/me', data: { page: 1 } }), { user: { id: user.id }, query: { page: '1' } })
  t.same(await client.request({ url: '/orders', method: 'POST', data: { n: 2 } }), { n: 2, by: user.id })
  t.same(device.sent.at(-1)?.given, body === 'object' ? { n: 2 } : '{"n":2}', `the request call was given ${body === 'object' ? 'an object' : 'a string'}`)
  await expireSession(skey)
  t.match(await client.request({ url: '/me' }), { user: { id: user.id } }, 'after a re-login')
  t.not(client.skey(), skey)
  return user
}

test('uni-app, WeChat build (mp-weixin), in a realm with only uni: uni.login, uni.request, uni storage', async (t) => {
  const { app, baseUrl } = await server(t)
  const uni = fakeUni({ uniPlatform: 'mp-weixin', login: () => ({ code: wechatSandbox.issueCode(wendy) }) })
  const { exports, leaked } = clientInRealm({ uni: uni.api })
  t.same(leaked, [])
  const client = exports.createAuthClient({ baseUrl, platform: exports.uniAdapter(uni.api) })
  await roundTrip(t, client, uni.device, (skey) => expire(app, skey), 'string')
  t.equal(uni.state.logins, 2)
  t.same(uni.state.options, [{}, {}], 'no provider: a mini-program build logs in with its host, and no scopes outside Alipay')
  t.equal(uni.device.storage.get('mpa:skey'), client.skey(), 'uni.setStorageSync')
  const number = await client.phoneNumber({ errMsg: 'getPhoneNumber:ok', code: wechatSandbox.phoneCode(wendy.openId) })
  t.match(number, { purePhoneNumber: '13700137000' }, 'the phone number button, as on WeChat')
})

test('uni-app, Alipay build (mp-alipay), in a realm with only uni: uni.login passes scopes, its code is the authCode', async (t) => {
  const { app, baseUrl } = await server(t)
  const uni = fakeUni({ uniPlatform: 'mp-alipay', login: ({ scopes }) => ({ code: alipaySandbox.issueAuthCode({ ...ali, scope: scopes as 'auth_base' | 'auth_user' }) }) })
  const { exports } = clientInRealm({ uni: uni.api })
  const client = exports.createAuthClient({ baseUrl, platform: exports.uniAdapter(uni.api), scope: 'auth_user' })
  const user = await roundTrip(t, client, uni.device, (skey) => expire(app, skey), 'string')
  t.match(user.id, /^alipay:/)
  t.same(uni.state.options, [{ scopes: 'auth_user' }, { scopes: 'auth_user' }], 'uni.login({ scopes }), the re-login too')
  t.same(loginBodies(uni.device).map(({ scope }) => scope), ['auth_user', 'auth_user'])
  t.ok(loginBodies(uni.device).every(({ authCode }) => typeof authCode === 'string'), 'POST /auth/alipay/login { authCode, scope }')
  await t.rejects(client.phoneNumber(), { name: 'TypeError', message: 'phoneNumber: alipay has no phone number route' }, 'no my.getPhoneNumber through uni')
})

test('uni-app, Douyin build (mp-toutiao), in a realm with only uni: both codes, an object body', async (t) => {
  const { app, baseUrl } = await server(t)
  const uni = fakeUni({ uniPlatform: 'mp-toutiao', login: () => douyinSandbox.login(dou) as { code: string, anonymousCode: string } })
  const { exports } = clientInRealm({ uni: uni.api })
  const client = exports.createAuthClient({ baseUrl, platform: exports.uniAdapter(uni.api) })
  await roundTrip(t, client, uni.device, (skey) => expire(app, skey), 'object')
  t.same(Object.keys(loginBodies(uni.device)[0]!), ['code', 'anonymousCode'])
})

test('uni-app H5 and App builds: a TypeError that says there is no mini-program login there', async (t) => {
  for (const uniPlatform of ['web', 'app']) {
    const uni = fakeUni({ uniPlatform, login: () => ({ code: 'never' }) })
    const { exports } = clientInRealm({ uni: uni.api })
    t.throws(() => exports.uniAdapter(uni.api), { name: 'TypeError', message: `uni-app's "${uniPlatform}" build has no mini-program login: create the auth client only in mini-program builds, or pass your own adapter as platform (docs/client.md)` })
    t.equal(uni.state.logins, 0)
  }
})

test('Taro, WeChat build (WEAPP), in a realm with only Taro: Taro.login, Taro.request, Taro storage', async (t) => {
  const { app, baseUrl } = await server(t)
  const taro = fakeTaro('WEAPP', () => ({ code: wechatSandbox.issueCode(wendy) }))
  const { exports, leaked } = clientInRealm({ Taro: taro.api })
  t.same(leaked, [])
  const client = exports.createAuthClient({ baseUrl, platform: exports.taroAdapter(taro.api) })
  await roundTrip(t, client, taro.device, (skey) => expire(app, skey), 'string')
  t.same(taro.state.options, [{}, {}], 'no force outside Douyin')
})

test('Taro, Douyin build (TT), in a realm with only Taro: force passed on, an object body', async (t) => {
  const { app, baseUrl } = await server(t)
  const taro = fakeTaro('TT', () => douyinSandbox.login(dou) as { code: string, anonymousCode: string })
  const { exports } = clientInRealm({ Taro: taro.api })
  const client = exports.createAuthClient({ baseUrl, platform: exports.taroAdapter(taro.api), force: false })
  await roundTrip(t, client, taro.device, (skey) => expire(app, skey), 'object')
  t.same(taro.state.options, [{ force: false }, { force: false }])
})

test('Taro, Alipay build (ALIPAY): auth_base through Taro.login; auth_user, which Taro cannot ask, is refused before any call', async (t) => {
  const { app, baseUrl } = await server(t)
  const taro = fakeTaro('ALIPAY', ({ scopes }) => ({ code: alipaySandbox.issueAuthCode({ ...ali, scope: scopes as 'auth_base' }) }))
  const { exports } = clientInRealm({ Taro: taro.api })
  const client = exports.createAuthClient({ baseUrl, platform: exports.taroAdapter(taro.api) })
  await roundTrip(t, client, taro.device, (skey) => expire(app, skey), 'string')
  t.same(loginBodies(taro.device).map(({ scope }) => scope), ['auth_base', 'auth_base'])
  const logins = taro.state.logins
  await t.rejects(client.login({ scope: 'auth_user' }), { code: 'MPA_CLIENT_LOGIN_FAILED', message: /Taro\.login on Alipay asks only auth_base/ })
  t.equal(taro.state.logins, logins, 'Taro.login not called')
})

test('Taro H5, React Native and Harmony builds: a TypeError that says there is no mini-program login there', async (t) => {
  for (const env of ['WEB', 'RN', 'HARMONY']) {
    const taro = fakeTaro(env, () => ({ code: 'never' }))
    const { exports } = clientInRealm({ Taro: taro.api })
    t.throws(() => exports.taroAdapter(taro.api), { name: 'TypeError', message: new RegExp(`^Taro's "${env}" build has no mini-program login`) })
  }
})

test('no session_key, token, app secret or private key in any reply, no skey in any log line', async (t) => {
  world.assertNoSecrets(t)
})
