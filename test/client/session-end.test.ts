import { test } from 'tap'
import type { AlipaySandboxUser, WechatSandboxUser } from '../../sandbox/index.js'
import { createAuthClient, type AuthClientOptions, type SessionEnd } from '../../client/index.js'
import { Device, fakeMy, fakeWx } from './fakes.js'
import { clientWorld } from './world.js'

// Why a session ended, and what the helper does about it: after an expiry
// it logs in again by itself; after a replacement, a revocation or a ban it
// forgets the skey, does not log in until the app says so, and tells the app.

const { world, wechatSandbox, alipaySandbox, server, expire } = await clientWorld('client-end')

function wechatDevice (user: WechatSandboxUser, baseUrl: string, extra: Partial<AuthClientOptions<'wechat'>> = {}, device = new Device()) {
  const fake = fakeWx(() => wechatSandbox.issueCode(user), device)
  const ends: SessionEnd[] = []
  const client = createAuthClient({ baseUrl, platform: 'wechat', api: fake.api, onSessionEnd: (end) => { ends.push(end) }, ...extra })
  return { ...fake, ends, client }
}

const paths = (device: Device) => device.sent.map((s) => `${s.method} ${new URL(s.url).pathname}`)

for (const [code, reason] of [['MPA_SESSION_REPLACED', 'replaced'], ['MPA_SESSION_REVOKED', 'revoked'], ['MPA_SESSION_BANNED', 'banned']] as const) {
  test(`${code}: the skey forgotten, no login by itself, the callers rejected with the code, the app told once`, async (t) => {
    const { baseUrl } = await server(t)
    const { client, state, device, ends } = wechatDevice({ openId: `oClientEnd${reason}0000000001` }, baseUrl)
    const { skey } = await client.login()
    const failures = await Promise.all([1, 2, 3].map(() => client.request({ url: `/ended/${code}` }).catch((err: unknown) => err)))
    for (const failure of failures) t.match(failure, { name: 'AuthClientError', statusCode: 401, code }, 'each caller gets the code')
    t.same(ends, [{ reason, code, message: `the session ended (${code})` }], 'onSessionEnd, once for the three replies')
    t.equal(state.logins, 1, 'no login after it')
    t.equal(client.skey(), null, 'the skey forgotten')
    t.same(client.sessionEnd(), ends[0], 'sessionEnd() says why')

    // Logging in again by itself on the next 401 would evict the other device all the same.
    await t.rejects(client.request({ url: '/me' }), { statusCode: 401, code: 'MPA_SKEY_MISSING' })
    t.notOk(device.sent.at(-1)?.headers['x-skey'], 'sent without an skey')
    t.equal(state.logins, 1, 'and still no login')

    const again = await client.login()
    t.not(again.skey, skey, 'the app logs in again when it decides to')
    t.equal(client.sessionEnd(), null, 'which clears the end')
    t.match(await client.request({ url: '/me' }), { user: { id: again.user.id } })
    t.same(paths(device).filter((path) => path.endsWith('/login')), ['POST /auth/wechat/login', 'POST /auth/wechat/login'])
  })
}

test('the end outlives a restart: a new client on the same storage does not log in by itself', async (t) => {
  const { baseUrl } = await server(t)
  const user = { openId: 'oClientEndRestart0000000001' }
  const first = wechatDevice(user, baseUrl)
  await first.client.login()
  await t.rejects(first.client.request({ url: '/ended/MPA_SESSION_REPLACED' }), { code: 'MPA_SESSION_REPLACED' })
  t.same([...first.device.storage.keys()], ['mpa:skey:end'], 'only the end is stored')

  const relaunched = wechatDevice(user, baseUrl, {}, first.device)
  t.match(relaunched.client.sessionEnd(), { reason: 'replaced', code: 'MPA_SESSION_REPLACED' })
  await t.rejects(relaunched.client.request({ url: '/me' }), { code: 'MPA_SKEY_MISSING' })
  t.equal(relaunched.state.logins, 0, 'no login')
  t.same(relaunched.ends, [], 'and no second notice: the app learnt it before the restart')
})

test('a 401 with an end code from another host ends nothing', async (t) => {
  const { baseUrl } = await server(t)
  const other = await server(t)
  const { client, ends, state } = wechatDevice({ openId: 'oClientEndForeign0000000001' }, baseUrl)
  const { skey } = await client.login()
  await t.rejects(client.request({ url: `${other.baseUrl}/ended/MPA_SESSION_REVOKED` }), { code: 'MPA_SESSION_REVOKED' })
  t.equal(client.skey(), skey, 'the skey kept')
  t.same(ends, [])
  t.equal(state.logins, 1)
})

test('a banned user: the session ends as banned, told once, and a login is refused with 403 MPA_USER_BANNED, never retried', async (t) => {
  const { app, baseUrl } = await server(t)
  const user = { openId: 'oClientBanned00000000000001' }
  const { client, state, ends } = wechatDevice(user, baseUrl)
  const { user: { id } } = await client.login()
  await app.sessions.ban(id, { reason: 'spam' })
  await t.rejects(client.request({ url: '/me' }), { statusCode: 401, code: 'MPA_SESSION_BANNED' }, 'the caller is told the session ended for a ban')
  t.equal(state.logins, 1, 'no re-login')
  t.same(ends.map(({ reason, code }) => ({ reason, code })), [{ reason: 'banned', code: 'MPA_SESSION_BANNED' }])
  t.equal(client.skey(), null)
  await t.rejects(client.request({ url: '/me' }), { code: 'MPA_SKEY_MISSING' })
  t.equal(state.logins, 1, 'no login by itself after it')
  await t.rejects(client.login(), { statusCode: 403, code: 'MPA_USER_BANNED' }, 'an explicit login is refused')
  t.equal(state.logins, 2, 'that one login call, and no retry')
  t.same(ends.map(({ code }) => code), ['MPA_SESSION_BANNED', 'MPA_USER_BANNED'], 'and told again')
  await app.sessions.unban(id)
  await client.login()
  t.match(await client.request({ url: '/me' }), { user: { id } }, 'unbanned: logs in again')
})

test('two devices, one session per user: one stays logged in, the other is told why, and the logins stop', async (t) => {
  const { baseUrl } = await server(t, { maxPerUser: 1 })
  const user = { openId: 'oClientPingPong000000000001' }
  const login = async () => {
    const response = await fetch(`${baseUrl}/auth/wechat/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: wechatSandbox.issueCode(user) }) })
    return ((await response.json()) as { skey: string }).skey
  }
  const evicted = await login()
  await login()
  const { code: evictedCode } = await (await fetch(`${baseUrl}/me`, { headers: { 'x-skey': evicted } })).json() as { code: string }
  t.equal(evictedCode, 'MPA_SESSION_REPLACED', 'the server says why an evicted session ended')

  const before = wechatSandbox.calls('jscode2session')
  const phone = wechatDevice(user, baseUrl)
  const tablet = wechatDevice(user, baseUrl)
  await phone.client.login()
  await tablet.client.login() // evicts the phone's session
  for (let round = 0; round < 5; round++) {
    await phone.client.request({ url: '/me' }).catch(() => {})
    await tablet.client.request({ url: '/me' }).catch(() => {})
  }
  t.equal(wechatSandbox.calls('jscode2session') - before, 2, 'two upstream logins, whatever the number of requests')
  t.same(phone.ends.map((end) => end.reason), ['replaced'], 'the phone is told why, once')
  t.equal(phone.client.skey(), null, 'and stays logged out')
  t.same(tablet.ends, [], 'the tablet is told nothing')
  t.equal(tablet.state.logins, 1, 'the tablet logged in once')
  t.match(await tablet.client.request({ url: '/me' }), { user: { id: String } }, 'and is logged in')
})

test('alipay: an auth_user login whose session expired comes back auth_user, also after a restart; an explicit login asks the configured scope', async (t) => {
  const { app, baseUrl } = await server(t)
  const user: AlipaySandboxUser = { openId: '074a1d3d000000000000000scope2', profile: { nickName: 'Scope Again' } }
  const device = new Device()
  const phone = fakeMy((scope) => alipaySandbox.issueAuthCode({ ...user, scope }), undefined, device)
  const options = { baseUrl, platform: 'alipay' as const, api: phone.api }
  const client = createAuthClient(options)
  const sentScopes = () => device.sent.filter((s) => s.url.endsWith('/auth/alipay/login')).map((s) => (JSON.parse(s.body!) as { scope: string }).scope)

  const granted = await client.login({ scope: 'auth_user' })
  t.equal(granted.profile, 'ok', 'auth_user: the profile fetched')
  await expire(app, granted.skey)
  await client.request({ url: '/me' })
  t.same(phone.state.scopes, ['auth_user', 'auth_user'], 'my.getAuthCode asked auth_user again')
  t.same(sentScopes(), ['auth_user', 'auth_user'], 'and the login route was told so')

  const relaunched = createAuthClient(options)
  await expire(app, relaunched.skey()!)
  await relaunched.request({ url: '/me' })
  t.same(phone.state.scopes.at(-1), 'auth_user', 'after a restart too: the scope is kept beside the skey')

  await relaunched.logout()
  t.same([...device.storage.keys()], [], 'logout forgets the skey and its scope')
  await relaunched.login()
  t.same(phone.state.scopes.at(-1), 'auth_base', 'an explicit login asks the configured scope')
})

test('no session_key, token, app secret or private key in any reply, no skey in any log line', async (t) => {
  world.assertNoSecrets(t)
})
