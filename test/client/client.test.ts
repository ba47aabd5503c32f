import { test } from 'tap'
import { parse } from 'acorn'
import ts from 'typescript'
import type { AlipaySandboxUser, WechatSandboxUser } from '../../sandbox/index.js'
import { AuthClientError, createAuthClient, type AuthClientOptions } from '../../client/index.js'
import { keyOf } from '../helpers/keys.js'
import { sessionIdOf } from '../../lib/skey.js'
import { alice, dora, phones } from './phones.js'
import { Device, wxShaped } from './fakes.js'
import { clientBuild, clientInRealm, clientProgramBuild } from './realm.js'
import { clientWorld, userIdOf } from './world.js'

// The helper against the real server over HTTP, the real sandboxes and
// Redis. The fakes of wx, my, tt, qq, ks and swan do real HTTP, each with its
// platform's shapes, and their login calls hand out the sandboxes' codes.

const clientTestWorld = await clientWorld('client')
const { world, wechatSandbox, douyinSandbox, qqSandbox, kuaishouSandbox, baiduSandbox, server, expire } = clientTestWorld
const { wechatPhone, douyinPhone, alipayPhone, customPhone, PLATFORM_CASES } = phones(clientTestWorld)

function wechatClient (baseUrl: string, user: WechatSandboxUser = alice, extra: Partial<AuthClientOptions<'wechat'>> = {}) {
  const fake = wechatPhone(user)
  return { ...fake, client: createAuthClient({ baseUrl, platform: 'wechat', api: fake.api, ...extra }) }
}

test('the mini-program build: ES2017 CommonJS whose modules require only each other', async (t) => {
  const { config, files, diagnostics } = clientProgramBuild()
  t.same(diagnostics, [], 'type-checks against the ES2017 library alone, no Node or DOM types')
  t.same(clientBuild().files, Object.fromEntries(Object.entries(files).filter(([name]) => !name.endsWith('.d.ts'))), 'the realms\' build, module by module, is the same JavaScript')
  t.match(config.options, { target: ts.ScriptTarget.ES2017, module: ts.ModuleKind.CommonJS })
  t.ok(files['index.js'], 'emits index.js')
  for (const [name, code] of Object.entries(files)) {
    t.doesNotThrow(() => parse(code, { ecmaVersion: 2017, sourceType: 'script' }), `${name} parses as ES2017: no class fields, ??=, ?. or ??`)
    const required = [...code.matchAll(/\brequire\("([^"]+)"\)/g)].map(([, specifier]) => specifier!)
    t.same(required.filter((specifier) => !specifier.startsWith('.')), [], `${name} requires nothing outside the package`)
  }
  t.notOk(Object.keys(files).some((name) => name.endsWith('.d.ts')), 'no declarations among the mini-program files')
})

for (const { platform, global, fake } of PLATFORM_CASES) {
  test(`${platform}, built, in a realm with only ${global}: login, the skey on requests, a re-login after the session expired, logout`, async (t) => {
    const { app, baseUrl } = await server(t)
    const phone = fake()
    const { storage, sent } = phone.device
    const loginRoute = `/auth/${platform}/login`
    const { exports, leaked } = clientInRealm({ [global]: phone.api })
    t.same(leaked, [], `the realm has no Node or web globals, and ${global} only as a free variable`)
    const client = exports.createAuthClient({ baseUrl, platform }) // no api: finds the free variable

    const first = await client.login()
    t.equal(storage.get('mpa:skey'), first.skey, 'the skey stored')
    const me = await client.request<{ user: { id: string }, query: Record<string, string> }>({ url: '/me?a=1', data: { b: 'x y' } })
    t.same(me, { user: { id: first.user.id }, query: { a: '1', b: 'x y' } })
    t.equal(sent.at(-1)?.headers['x-skey'], first.skey, 'sent with the skey')
    t.same(await client.request({ url: '/orders', method: 'POST', data: { n: 1 } }), { n: 1, by: first.user.id }, 'a JSON body')
    // Douyin documents an object as tt.request's data; the others take the JSON text.
    t.same(sent.at(-1)?.given, platform === 'douyin' ? { n: 1 } : '{"n":1}', `${global}.request was given ${platform === 'douyin' ? 'an object' : 'a string'}`)

    await expire(app, first.skey)
    const again = await client.request<{ user: { id: string } }>({ url: '/me' })
    t.equal(again.user.id, first.user.id, 'the same user, after a re-login')
    const second = client.skey()
    t.not(second, first.skey, 'with a new skey')
    t.equal(phone.state.logins, 2, 'one login call for the re-login')

    await client.logout()
    t.equal(storage.has('mpa:skey'), false, 'logged out: forgotten')
    t.equal(await app.sessions.get(second!), null, 'and revoked on the server')
    t.same(sent.map((s) => `${s.method} ${new URL(s.url).pathname}`), [
      `POST ${loginRoute}`, 'GET /me', 'POST /orders', 'GET /me', `POST ${loginRoute}`, 'GET /me', 'DELETE /auth/session'
    ])
  })
}

test('alipay, built, in a realm with only my: phoneNumber() posts what my.getPhoneNumber gave', async (t) => {
  const { baseUrl } = await server(t)
  const phone = alipayPhone({ openId: '074a1d3d000000000000000phone', mobile: '13800138000' })
  const client = clientInRealm({ my: phone.api }).exports.createAuthClient({ baseUrl, platform: 'alipay' })
  await client.login()
  t.same(await client.phoneNumber(), { mobile: '13800138000' }, 'checked and opened on the server')
  const body = JSON.parse(phone.sent.at(-1)!.body!)
  t.same(Object.keys(body), ['response'])
  t.match(JSON.parse(body.response), { response: String, sign: String, sign_type: 'RSA2', encrypt_type: 'AES' }, 'the string my.getPhoneNumber gave, as it is')

  phone.state.phone = { subCode: 'isv.invalid-auth-relations' }
  await t.rejects(client.phoneNumber(), { statusCode: 403, code: 'MPA_PHONE_REFUSED' }, 'Alipay\'s refusal, as the server words it')

  phone.state.phoneDeclined = true
  const before = phone.sent.length
  await t.rejects(client.phoneNumber(), { statusCode: 0, code: 'MPA_CLIENT_PHONE_FAILED', message: 'the phone number was not given: the user declined' })
  t.equal(phone.sent.length, before, 'nothing sent when my.getPhoneNumber failed')

  const older = createAuthClient({ baseUrl, platform: 'alipay', api: { ...phone.api, getPhoneNumber: undefined } })
  await t.rejects(older.phoneNumber(), { code: 'MPA_CLIENT_PHONE_FAILED', message: /this my object has no getPhoneNumber/ }, 'a base library without my.getPhoneNumber')
})

test('wechat: login stores the skey, request sends it and resolves with the data', async (t) => {
  const { baseUrl } = await server(t)
  const { client, storage, sent } = wechatClient(baseUrl)
  const reply = await client.login()
  t.match(reply, { skey: /^[A-Za-z0-9_-]{43}$/, expiresAt: Number, user: { id: userIdOf(alice.openId) } })
  t.equal(storage.get('mpa:skey'), reply.skey, 'stored with setStorageSync under the default key')
  t.equal(client.skey(), reply.skey)

  const me = await client.request<{ user: { id: string }, query: Record<string, string> }>({ url: '/me', data: { page: 2, q: 'a b' } })
  t.equal(me.user.id, userIdOf(alice.openId))
  t.same(me.query, { page: '2', q: 'a b' }, 'GET data goes in the query string')
  const joined = await client.request<{ query: Record<string, string> }>({ url: '/me?sort=new', data: { page: 3 } })
  t.same(joined.query, { sort: 'new', page: '3' }, 'joined with & to a query string already in the url')
  t.equal(sent.at(-1)?.url, `${baseUrl}/me?sort=new&page=3`)
  t.equal(sent.at(-1)?.headers['x-skey'], reply.skey, 'the skey travels in x-skey')

  const order = await client.request({ url: '/orders', method: 'POST', data: { n: 3 } })
  t.same(order, { n: 3, by: userIdOf(alice.openId) }, 'POST data goes as JSON, a 201 resolves')
  t.equal(sent.at(-1)?.headers['content-type'], 'application/json')
})

test('the skey goes only to the server: absolute URLs of other hosts get none, and no re-login', async (t) => {
  const { baseUrl } = await server(t)
  const other = await server(t) // another host: its 401s must not trigger a login with our server
  const { client, sent, state } = wechatClient(baseUrl)
  const { skey } = await client.login()

  await client.request({ url: `${baseUrl}/me` })
  t.equal(sent.at(-1)?.headers['x-skey'], skey, 'an absolute URL on our server carries it')
  const foreign = await client.request({ url: `${other.baseUrl}/me` }).catch((err: unknown) => err)
  t.notOk(sent.at(-1)?.headers['x-skey'], 'another host gets no skey')
  t.match(foreign, { statusCode: 401, code: 'MPA_SKEY_MISSING' }, "the other host's 401 reaches the caller")
  t.equal(state.logins, 1, 'and does not make us log in again')
  // Not even a valid URL (the port runs on), so nothing leaves the machine; what matters is the header.
  await client.request({ url: `${baseUrl}.evil.example/me` }).catch(() => {})
  t.notOk(sent.at(-1)?.headers['x-skey'], 'a host that merely starts like ours gets none')
  const count = sent.length
  for (const url of ['me', '@evil.example/me']) {
    await t.rejects(client.request({ url }), { name: 'TypeError', message: /url must be a path starting with '\/'/ }, `${url}: would change the host`)
  }
  t.equal(sent.length, count, 'nothing was sent for them')
})

test('wechat: an expired skey logs in once and retries once', async (t) => {
  const { app, baseUrl } = await server(t, { ttl: '2s' })
  const { client, state, sent } = wechatClient(baseUrl)
  const first = await client.login()
  // The idle TTL runs out now rather than in 2 s: Redis drops the key as its
  // expiry would. Nothing has read the session yet, so no instance caches it.
  const sessionKey = keyOf(app.sessions, 's', sessionIdOf(first.skey))
  const ttl = await world.redis.pttl(sessionKey)
  t.ok(ttl > 0 && ttl <= 2000, `the session key expires with the 2 s idle TTL (PTTL ${ttl})`)
  t.equal(await world.redis.pexpire(sessionKey, 0), 1, 'expired in Redis')
  const me = await client.request<{ user: { id: string } }>({ url: '/me' })
  t.equal(me.user.id, userIdOf(alice.openId), 'the request succeeded after the re-login')
  t.equal(state.logins, 2, 'one wx.login for the re-login')
  t.not(client.skey(), first.skey, 'a new skey is stored')
  t.same(sent.map((s) => `${s.method} ${new URL(s.url).pathname}`), ['POST /auth/wechat/login', 'GET /me', 'POST /auth/wechat/login', 'GET /me'])
})

test('wechat: an expired skey, and concurrent requests during the re-login, share one login', async (t) => {
  const { app, baseUrl } = await server(t)
  const { client, state, sent } = wechatClient(baseUrl)
  const { skey } = await client.login()
  await expire(app, skey)

  const results = await Promise.all(Array.from({ length: 6 }, (_, n) => client.request<{ n: number }>({ url: '/orders', method: 'POST', data: { n } })))
  t.same(results.map((r) => r.n), [0, 1, 2, 3, 4, 5], 'every request succeeded')
  t.equal(state.logins, 2, 'the six 401s shared one re-login')
  t.equal(sent.filter((s) => s.url.endsWith('/auth/wechat/login')).length, 2)
  t.equal(sent.filter((s) => s.url.endsWith('/orders')).length, 12, 'each request sent twice: once refused, once retried')
  const retried = sent.filter((s) => s.url.endsWith('/orders')).slice(6)
  t.ok(retried.every((s) => s.headers['x-skey'] === client.skey()), 'every retry carries the new skey')

  // A request made while a login is in flight waits for it instead of sending the old skey.
  const login = client.login()
  const during = client.request({ url: '/me' })
  await Promise.all([login, during])
  t.equal(sent.at(-1)?.headers['x-skey'], client.skey(), 'sent with the new skey')
  t.equal(sent.filter((s) => s.url.endsWith('/me')).length, 1, 'and only once')
})

test('wechat: data under a rotated session_key: one re-login, then the caller gets fresh data', async (t) => {
  const { baseUrl } = await server(t)
  const { client, sent, state } = wechatClient(baseUrl)
  await client.login()
  wechatSandbox.issueCode(alice) // a wx.login that never reached us rotates the key
  const captured = wechatSandbox.userInfo(alice.openId) // encrypted under a key this server never saw
  const before = sent.length
  const stale = await client.request({ url: '/auth/wechat/userinfo', method: 'POST', data: captured }).catch((err: unknown) => err)
  t.match(stale, { statusCode: 401, code: 'MPA_SESSION_KEY_EXPIRED' })
  t.equal(state.logins, 2, 'logged in again')
  t.same(sent.slice(before).map((s) => s.url.replace(baseUrl, '')), ['/auth/wechat/userinfo', '/auth/wechat/login'], 'the stale data was not sent twice')
  const fresh = await client.request<{ openId: string }>({ url: '/auth/wechat/userinfo', method: 'POST', data: wechatSandbox.userInfo(alice.openId) })
  t.equal(fresh.openId, alice.openId, 'fresh data opens with the new key')
})

test('wechat: phoneNumber posts what the button gave, and nothing when it gave nothing', async (t) => {
  const { app, baseUrl } = await server(t)
  const carol: WechatSandboxUser = { openId: 'oClientCarol000000000000003', phone: { purePhoneNumber: '91234567', countryCode: '852' } }
  const { client, sent, state } = wechatClient(baseUrl, carol)
  const number = { phoneNumber: '+85291234567', purePhoneNumber: '91234567', countryCode: '852' }
  const { skey } = await client.login()
  await expire(app, skey) // the session expired meanwhile

  // The code is bound to the user, not to a session_key: after the re-login, it is sent again.
  const code = wechatSandbox.phoneCode(carol.openId)
  t.same(await client.phoneNumber({ errMsg: 'getPhoneNumber:ok', code }), number, 'from the code')
  t.same(sent.slice(-3).map((s) => new URL(s.url).pathname), ['/auth/wechat/phone', '/auth/wechat/login', '/auth/wechat/phone'], 'a 401, the re-login, the retry')
  t.same(sent.at(-1)?.body, JSON.stringify({ code }), 'only the code: not errMsg, which the route would refuse')

  const legacy = wechatSandbox.phoneData(carol.openId)
  t.same(await client.phoneNumber({ errMsg: 'getPhoneNumber:ok', ...legacy }), number, 'from the encrypted data of old base libraries')
  t.same(JSON.parse(sent.at(-1)!.body!), { encryptedData: legacy.encryptedData, iv: legacy.iv })

  const before = sent.length
  const declined = await client.phoneNumber({ errMsg: 'getPhoneNumber:fail user deny' }).catch((err: unknown) => err)
  t.type(declined, AuthClientError)
  t.match(declined, { statusCode: 0, code: 'MPA_CLIENT_PHONE_FAILED', message: 'the phone number was not given: getPhoneNumber:fail user deny' })
  await t.rejects(client.phoneNumber(), { code: 'MPA_CLIENT_PHONE_FAILED' }, 'no detail at all')
  await t.rejects(client.phoneNumber({ encryptedData: legacy.encryptedData }), { code: 'MPA_CLIENT_PHONE_FAILED' }, 'encrypted data without its iv')
  t.equal(sent.length, before, 'nothing was sent for them')
  t.equal(state.logins, 2, 'no login for them either')
})

test('douyin: tt.login\'s codes as it gave them, force passed on, user info and the phone number', async (t) => {
  const { baseUrl } = await server(t)
  const phone = douyinPhone(dora)
  const client = createAuthClient({ baseUrl, platform: 'douyin', api: phone.api })
  t.equal(client.skey(), null, 'nothing stored: tt.getStorageSync threw, which reads as no skey')
  const reply = await client.login()
  t.same(Object.keys(JSON.parse(phone.sent[0]!.body!)), ['code', 'anonymousCode'], 'both codes of a user logged in to Douyin')
  t.same(phone.state.forces, [true], 'force: true by default, as tt.login')
  t.equal(phone.storage.get('mpa:skey'), reply.skey)

  const info = douyinSandbox.userInfo(dora.openId!)
  const profile = await client.request<{ nickName: string }>({ url: '/auth/douyin/userinfo', method: 'POST', data: info })
  t.equal(profile.nickName, 'Dora 抖音', 'user info decrypted with the session\'s session_key')
  const number = await client.phoneNumber({ errMsg: 'getPhoneNumber:ok', ...douyinSandbox.phoneData(dora.openId!) })
  t.same(number, { phoneNumber: '13900139000', purePhoneNumber: '13900139000', countryCode: '86' })
  t.same(Object.keys(JSON.parse(phone.sent.at(-1)!.body!)), ['encryptedData', 'iv'], 'only the encrypted data: not errMsg')
  await t.rejects(client.phoneNumber({ errMsg: 'getPhoneNumber:fail auth deny' }), { code: 'MPA_CLIENT_PHONE_FAILED', message: /getPhoneNumber:fail auth deny/ })
  // Base library 3.51.0+ gives a code too: sent alone, exchanged on the server.
  const byCode = await client.phoneNumber({ errMsg: 'getPhoneNumber:ok', code: douyinSandbox.phoneCode(dora.openId!), ...douyinSandbox.phoneData(dora.openId!) })
  t.same(byCode, { phoneNumber: '13900139000', purePhoneNumber: '13900139000', countryCode: '86' })
  t.same(Object.keys(JSON.parse(phone.sent.at(-1)!.body!)), ['code'], 'the code when the button gave one, not the encrypted data beside it')

  // A user not logged in to Douyin, with force: false: no dialog, only the device's anonymousCode.
  const guest = douyinPhone({ anonymousOpenId: 'aClientGuestDevice000000001' })
  const anonymous = createAuthClient({ baseUrl, platform: 'douyin', api: guest.api, force: false })
  const { user } = await anonymous.login()
  t.same(guest.state.forces, [false])
  t.same(Object.keys(JSON.parse(guest.sent[0]!.body!)), ['anonymousCode'])
  t.not(user.id, reply.user.id, 'a session of the device, which this app allows')
})

test('kuaishou and baidu, built, in a realm with only ks or swan: phoneNumber() posts the button\'s encrypted data; wecom has no phone route', async (t) => {
  const { baseUrl } = await server(t)
  for (const [platform, global, sandbox, loginName] of [['kuaishou', 'ks', kuaishouSandbox, 'login'], ['baidu', 'swan', baiduSandbox, 'getLoginCode']] as const) {
    const device = new Device()
    const openId = `${global}ClientPhone01`
    const api = { ...wxShaped(device), [loginName]: ({ success }: { success: (result: { code: string }) => void }) => { setImmediate(() => success(sandbox.login({ openId, phone: '13300133000' }))) } }
    const { exports } = clientInRealm({ [global]: api })
    const client = exports.createAuthClient({ baseUrl, platform })
    await client.login()
    const number = await client.phoneNumber({ errMsg: 'getPhoneNumber:ok', ...sandbox.phoneData(openId) })
    t.same(number, { phoneNumber: '13300133000', purePhoneNumber: '13300133000', countryCode: '86' }, `${platform}: decrypted on the server`)
    t.same(Object.keys(JSON.parse(device.sent.at(-1)!.body!)), ['encryptedData', 'iv'], `${platform}: only the encrypted data`)
  }
  const wecom = customPhone('wecom', 'wwClientPhone01')
  await t.rejects(createAuthClient({ baseUrl, platform: 'wecom', api: wecom.api as never }).phoneNumber({ code: 'abc' }), new TypeError('phoneNumber: wecom has no phone number route'))
})

test('qq: phoneNumber is a TypeError (no phone number route), before anything is sent', async (t) => {
  const phone = wechatPhone(alice, qqSandbox)
  const client = createAuthClient({ baseUrl: 'http://127.0.0.1:1', platform: 'qq', api: phone.api })
  await t.rejects(client.phoneNumber({ code: 'abc' }), new TypeError('phoneNumber: qq has no phone number route'))
  t.same(phone.sent, [])
})

test('wechat: login failures reach the caller', async (t) => {
  const { baseUrl } = await server(t)

  await t.test('the platform refuses wx.login', async (t) => {
    const { client, state } = wechatClient(baseUrl)
    state.loginFails = true
    const failure = await client.request({ url: '/me' }).catch((err: unknown) => err)
    t.type(failure, AuthClientError)
    t.match(failure, { statusCode: 0, code: 'MPA_CLIENT_LOGIN_FAILED', message: /wx\.login failed: login:fail network/ })
    t.equal(client.skey(), null)
  })

  await t.test('the server refuses the code, for every waiting request', async (t) => {
    const { client, sent } = wechatClient(baseUrl)
    wechatSandbox.fail('jscode2session', { errcode: 40029 })
    const failures = await Promise.all([client.request({ url: '/me' }), client.request({ url: '/me' })].map((p) => p.catch((err: unknown) => err)))
    for (const failure of failures) t.match(failure, { statusCode: 401, code: 'MPA_CODE_INVALID', data: { code: 'MPA_CODE_INVALID' } })
    t.equal(sent.filter((s) => s.url.endsWith('/login')).length, 1, 'one login attempt, shared')
    t.equal(client.skey(), null, 'nothing stored')
  })

  await t.test('a retry refused again is not retried again', async (t) => {
    const { client, state, sent } = wechatClient(baseUrl)
    await client.login()
    const failure = await client.request({ url: '/always-expired' }).catch((err: unknown) => err)
    t.match(failure, { statusCode: 401, code: 'MPA_SESSION_EXPIRED' })
    t.equal(state.logins, 2, 'one re-login')
    t.equal(sent.filter((s) => s.url.endsWith('/always-expired')).length, 2, 'one retry')
  })

  await t.test('errors that logging in does not fix pass straight through', async (t) => {
    const { client, state } = wechatClient(baseUrl)
    await client.login()
    const failure = await client.request({ url: '/orders', method: 'POST', data: { n: 'many' } }).catch((err: unknown) => err)
    t.match(failure, { statusCode: 400, code: 'FST_ERR_VALIDATION' })
    t.equal(state.logins, 1, 'no re-login')
  })

  await t.test('no server at all', async (t) => {
    const { client } = wechatClient('http://127.0.0.1:1')
    const failure = await client.login().catch((err: unknown) => err)
    t.match(failure, { statusCode: 0, code: 'MPA_CLIENT_REQUEST_FAILED', message: /POST http:\/\/127\.0\.0\.1:1\/auth\/wechat\/login failed: request:fail/ })
  })
})

test('wechat: a 401 that arrives after logout does not log the device back in', async (t) => {
  const { baseUrl, slow } = await server(t)
  const { client, state } = wechatClient(baseUrl)
  await client.login()
  const pending = client.request({ url: '/slowly-expired' }).catch((err: unknown) => err)
  await slow.arrived // the request has left with the skey, and the server holds its 401
  await client.logout()
  slow.release() // the 401 arrives only now, after the logout
  t.match(await pending, { statusCode: 401, code: 'MPA_SESSION_EXPIRED' }, 'the caller gets the 401')
  t.equal(state.logins, 1, 'no login after the logout')
  t.equal(client.skey(), null, 'the device stays logged out')
})

test('wechat: logout revokes on the server and forgets the skey', async (t) => {
  const { app, baseUrl } = await server(t)
  const { client, storage, sent, state } = wechatClient(baseUrl)
  const { skey } = await client.login()
  await client.logout()
  t.equal(storage.has('mpa:skey'), false, 'forgotten')
  t.equal(await app.sessions.get(skey), null, 'revoked on the server')
  const before = { sent: sent.length, storage: [...storage], logins: state.logins }
  await client.logout()
  t.same({ sent: sent.length, storage: [...storage], logins: state.logins }, before, 'logging out with no skey is a no-op: nothing sent, nothing stored, no login')

  // Logged out meanwhile on the server: the 401 counts as logged out.
  const again = await client.login()
  await expire(app, again.skey)
  await client.logout()
  t.equal(client.skey(), null)
})

test('wechat: logout during a login waits for it, then revokes the new session', async (t) => {
  const { app, baseUrl } = await server(t)

  await t.test('an explicit login', async (t) => {
    const { client, storage } = wechatClient(baseUrl)
    const login = client.login()
    await client.logout()
    const { skey } = await login
    t.equal(storage.has('mpa:skey'), false, 'forgotten')
    t.equal(await app.sessions.get(skey), null, 'revoked on the server')
  })

  await t.test('a background re-login after a 401', async (t) => {
    const { client, state, sent } = wechatClient(baseUrl)
    const first = await client.login()
    await expire(app, first.skey)
    let release = () => {}
    state.hold = new Promise((resolve) => { release = resolve })
    const secondLogin = new Promise<void>((resolve) => { state.onLogin = (logins) => { if (logins === 2) resolve() } })
    const request = client.request({ url: '/me' }).catch(() => {}) // its retry races the logout: either outcome is fine
    // The 401 came back and the re-login is waiting on wx.login; a request
    // that settles first never started a re-login (it cannot settle while one waits).
    const relogging = await Promise.race([secondLogin.then(() => true), request.then(() => false)])
    if (!t.ok(relogging, 'the 401 started a re-login, held in wx.login')) {
      release()
      return
    }
    const logout = client.logout()
    release()
    await Promise.all([request, logout])
    const relogin = sent.filter((s) => s.url.endsWith('/auth/wechat/login')).length
    t.equal(relogin, 2, 'the re-login did happen')
    t.equal(client.skey(), null, 'the device ends logged out')
    const revoked = sent.filter((s) => s.method === 'DELETE')
    t.equal(revoked.length, 1, 'one DELETE /auth/session')
    t.not(revoked[0]?.headers['x-skey'], first.skey, 'for the skey of the re-login, not the dead one')
    t.equal(await app.sessions.get(revoked[0]?.headers['x-skey'] ?? ''), null, 'which is revoked on the server')
  })
})

test('alipay: headers/status, fail on non-2xx, object storage, scopes, logout everywhere', async (t) => {
  const { app, baseUrl } = await server(t, { header: 'x-session' })
  const user: AlipaySandboxUser = { openId: '074a1d3d00000000000000000client', profile: { nickName: '🐼 熊猫' } }
  const phoneA = alipayPhone(user)
  const phoneB = alipayPhone(user)
  const options = { baseUrl, platform: 'alipay' as const, header: 'x-session', storageKey: 'session' }
  const clientA = createAuthClient({ ...options, api: phoneA.my })
  const clientB = createAuthClient({ ...options, api: phoneB.my, scope: 'auth_user' })

  const a = await clientA.login()
  t.same(phoneA.state.scopes, ['auth_base'], 'auth_base by default')
  t.equal(phoneA.storage.get('session'), a.skey, 'my.setStorageSync({ key, data })')
  const b = await clientB.login()
  t.same(phoneB.state.scopes, ['auth_user'])
  t.equal(b.user.id, a.user.id, 'one user, two devices')
  t.equal(b.profile, 'ok', 'auth_user fetched the profile')

  const me = await clientA.request<{ user: { id: string } }>({ url: '/me' })
  t.equal(me.user.id, a.user.id)
  t.equal(phoneA.sent.at(-1)?.headers['x-session'], a.skey, 'the configured header')

  const { sessions } = await clientA.request<{ sessions: Array<{ current?: boolean }> }>({ url: '/auth/sessions' })
  t.equal(sessions.length, 2, 'both devices listed')

  await clientA.logout({ everywhere: true })
  t.equal(await app.sessions.get(b.skey), null, 'the other device is logged out too')
  t.equal(clientA.skey(), null)

  // Device B learns it on its next request (my.request fails with status 401, MPA_SESSION_REVOKED):
  // logged out elsewhere, it forgets its skey and does not log in again by itself.
  await t.rejects(clientB.request({ url: '/me' }), { statusCode: 401, code: 'MPA_SESSION_REVOKED' })
  t.equal(clientB.skey(), null, 'device B forgot its skey')
  t.same(phoneB.state.scopes, ['auth_user'], 'and asked no new authCode')

  const override = await clientA.login({ scope: 'auth_user' })
  t.equal(override.profile, 'ok', 'login({ scope }) overrides')
})

test('alipay: concurrent logins share one my.getAuthCode per scope', async (t) => {
  const { baseUrl } = await server(t)
  const phone = alipayPhone({ openId: '074a1d3d0000000000000000scope', profile: { nickName: 'Scope' } })
  const client = createAuthClient({ baseUrl, platform: 'alipay', api: phone.my })
  const [base, user, sameUser] = await Promise.all([client.login(), client.login({ scope: 'auth_user' }), client.login({ scope: 'auth_user' })])
  t.same([...phone.state.scopes].sort(), ['auth_base', 'auth_user'], 'one auth_base and one auth_user, not one for all')
  t.equal(user.profile, 'ok', 'the auth_user caller gets its profile')
  t.equal(sameUser, user, 'the two auth_user callers share one login')
  t.not(base, user)
  t.ok([base.skey, user.skey].includes(client.skey()!), 'one of them is stored')
})

test('options are checked', async (t) => {
  const { api } = wechatPhone(alice)
  t.throws(() => createAuthClient({ baseUrl: 'http://x', platform: 'line' as 'wechat', api }), /^platform must be one of 'wechat', 'alipay', 'douyin', 'qq', 'kuaishou', 'baidu', 'wecom', or an adapter \(got "line"\)$/)
  t.throws(() => createAuthClient({ baseUrl: 'http://x', platform: 'toString' as 'wechat', api }), /platform must be one of/, 'not a property every object has')
  t.throws(() => createAuthClient({ baseUrl: 'http://x', platform: { name: '../admin', loginCall: 'x.login', login: async () => ({}), request: async () => ({ statusCode: 200, data: '' }), storage: { get: () => null, set: () => {}, remove: () => {} } } }), /a platform adapter needs a name \(letters, digits, - and _/, 'an adapter name that would leave the prefix')
  t.throws(() => createAuthClient({ baseUrl: '/relative', platform: 'wechat', api }), /baseUrl must be an http\(s\) URL/)
  t.throws(() => createAuthClient({ baseUrl: 'https://user@api.example.com', platform: 'wechat', api }), /baseUrl must be an http\(s\) URL/, 'no credentials in baseUrl')
  for (const [platform, global] of [['wechat', 'wx'], ['alipay', 'my'], ['douyin', 'tt'], ['qq', 'qq'], ['kuaishou', 'ks'], ['baidu', 'swan'], ['wecom', 'wx.qy']] as const) {
    t.throws(() => createAuthClient({ baseUrl: 'http://x', platform }), new TypeError(`no ${global} object: run inside the mini-program or pass options.api`))
  }
  const { exports } = clientInRealm({ wx: api })
  t.throws(() => exports.createAuthClient({ baseUrl: 'http://x', platform: 'wecom' }), { message: 'no wx.qy object: run inside the mini-program or pass options.api' }, 'WeChat\'s wx is no WeCom object')
})

test('methods: PATCH, which wx.request and my.request lack, is refused before anything is sent', async (t) => {
  const { client, sent } = wechatClient('http://127.0.0.1:1')
  await t.rejects(client.request({ url: '/orders/1', method: 'PATCH' as 'PUT' }), new TypeError('method must be one of GET, POST, PUT, DELETE (got "PATCH")'))
  t.same(sent, [])
})

test('douyin: a JSON body that is no object is refused, as tt.request takes objects', async (t) => {
  const { baseUrl } = await server(t)
  const phone = douyinPhone(dora)
  const client = createAuthClient({ baseUrl, platform: 'douyin', api: phone.api })
  await client.login()
  const before = phone.sent.length
  await t.rejects(client.request({ url: '/orders', method: 'POST', data: 'text' }), { name: 'TypeError', message: 'tt.request takes an object or an array as data (got "text")' })
  t.equal(phone.sent.length, before, 'nothing sent')
})

test('no session_key, token, app secret or private key in any reply, no skey in any log line', async (t) => {
  world.assertNoSecrets(t)
})
