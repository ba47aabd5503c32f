import { test } from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { OA_APP, OAuthWorld, TARGET, MOBILE_APP, WEB_APP } from '../helpers/wechat-oauth.js'

// WeChat's browser logins over HTTP (the app by inject, WeChat's sandbox by
// fetch): the authorize redirect, the consent, the callback, and every way
// the callback refuses. The same flows in Chromium: test/e2e/wechat-web.test.ts.

/** The session and nonce cookies a reply set, as a Cookie header. */
function cookiesOf (res: LightMyRequestResponse, previous = ''): string {
  const jar = new Map(previous.split('; ').filter(Boolean).map((pair) => pair.split('=') as [string, string]))
  for (const { name, value } of res.cookies) jar.set(name, value)
  return [...jar].map(([name, value]) => `${name}=${value}`).join('; ')
}

async function authorize (app: FastifyInstance, surface: 'wechat-oa' | 'wechat-web', redirect = TARGET, cookie = '') {
  const res = await app.inject({ url: `/auth/${surface}/authorize?redirect=${encodeURIComponent(redirect)}`, headers: cookie ? { cookie } : {} })
  return { res, location: res.headers.location as string, cookie: cookiesOf(res, cookie) }
}

async function callback (app: FastifyInstance, back: URL, cookie: string) {
  return app.inject({ url: back.pathname + back.search, headers: cookie ? { cookie } : {} })
}

test('an official account page logs in: consent, callback, the cookie, the allowed page', async (t) => {
  const world = await OAuthWorld.create(t, 'oauth-oa')
  const app = await world.build()
  const start = await authorize(app, 'wechat-oa', `${TARGET}orders?id=7`)
  t.equal(start.res.statusCode, 302)
  const to = new URL(start.location)
  t.equal(to.origin + to.pathname, `${world.sandbox.url}/connect/oauth2/authorize`)
  t.same([...to.searchParams.keys()], ['appid', 'redirect_uri', 'response_type', 'scope', 'state'], 'WeChat\'s parameters, in its order')
  t.equal(to.searchParams.get('redirect_uri'), 'https://api.example.test/auth/wechat-oa/callback')
  t.equal(to.searchParams.get('scope'), 'snsapi_userinfo')
  t.match(to.searchParams.get('state'), /^[A-Za-z0-9_-]{22}$/)
  t.equal(to.hash, '#wechat_redirect')
  t.match(start.cookie, /^__Host-mpa_browser=[A-Za-z0-9_-]{22}$/, 'the browser got its nonce')

  const back = await world.consent(start.location, 'ann')
  t.equal(back.origin + back.pathname, 'https://api.example.test/auth/wechat-oa/callback')
  const done = await callback(app, back, start.cookie)
  t.equal(done.statusCode, 302)
  t.equal(done.headers.location, `${TARGET}orders?id=7`, 'back to the page the login started from')
  t.match(String(done.headers['set-cookie']), /^__Host-mpa_session=[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Lax$/)
  const me = await app.inject({ url: '/me', headers: { cookie: cookiesOf(done, start.cookie) } })
  t.equal(me.json().user.id, 'union-ann')
  t.same(world.identities, [{
    provider: 'wechat-oa',
    surface: 'oa',
    appId: OA_APP.appId,
    openId: world.sandbox.openIdOf('ann', OA_APP.appId),
    unionId: 'union-ann',
    profile: { nickname: 'Ann 安', sex: 2, province: '', city: 'Shenzhen', country: '', headimgurl: '' }
  }], 'resolveUser gets the openid, the unionid, the surface and the profile')
  t.equal(me.json().session.provider, 'wechat-oa')

  const replayed = await callback(app, back, start.cookie)
  t.equal(replayed.statusCode, 400)
  t.equal(replayed.json().code, 'MPA_OAUTH_STATE_INVALID', 'the callback URL again: the state is spent')
  world.assertNoSecrets(t)
})

test('a website\'s QR login (qrconnect, snsapi_login), a silent official-account login (snsapi_base), a mobile app', async (t) => {
  const world = await OAuthWorld.create(t, 'oauth-surfaces')
  const app = await world.build({ wechatOa: { ...OA_APP, baseUrl: world.sandbox.url, authorizeUrl: world.sandbox.url, callbackUrl: 'https://api.example.test/auth/wechat-oa/callback', scope: 'snsapi_base' } })

  const web = await authorize(app, 'wechat-web')
  t.equal(new URL(web.location).pathname, '/connect/qrconnect')
  t.equal(new URL(web.location).searchParams.get('scope'), 'snsapi_login')
  const webDone = await callback(app, await world.consent(web.location, 'ann'), web.cookie)
  t.equal(webDone.headers.location, TARGET)
  t.has(world.identities.pop(), { provider: 'wechat-web', surface: 'web', appId: WEB_APP.appId, unionId: 'union-ann', profile: { nickname: 'Ann 安' } })

  const userinfoCalls = world.sandbox.calls('userinfo')
  const base = await authorize(app, 'wechat-oa')
  t.equal(new URL(base.location).searchParams.get('scope'), 'snsapi_base')
  t.equal((await callback(app, await world.consent(base.location, 'ann'), base.cookie)).statusCode, 302)
  t.same(world.identities.pop(), { provider: 'wechat-oa', surface: 'oa', appId: OA_APP.appId, openId: world.sandbox.openIdOf('ann', OA_APP.appId) },
    'snsapi_base: the openid only (its token may not read sns/userinfo)')
  t.equal(world.sandbox.calls('userinfo'), userinfoCalls, 'and sns/userinfo is not asked')

  const code = world.sandbox.issueAppCode('ann', MOBILE_APP.appId)
  const login = await world.post(app, '/auth/wechat-app/login', { code })
  t.equal(login.statusCode, 200)
  t.equal(login.json.user.id, 'union-ann', 'the same person on the mobile app: one unionid')
  t.has(world.identities.pop(), { provider: 'wechat-app', surface: 'app', appId: MOBILE_APP.appId, unionId: 'union-ann' })
  t.equal((await world.post(app, '/auth/wechat-app/login', { code })).json.skey, login.json.skey, 'a retried code answers the same')
  t.equal((await world.post(app, '/auth/wechat-app/login', { code: 'not-a-code' })).json.code, 'MPA_CODE_INVALID')
  world.assertNoSecrets(t)
})

test('the callback refuses: unknown, spent, foreign, another surface\'s, expired states; refused consent', async (t) => {
  const world = await OAuthWorld.create(t, 'oauth-refusals')
  const app = await world.build({ web: { redirects: [TARGET], stateTtl: '1s' } })
  const expect = async (res: LightMyRequestResponse, status: number, code: string, what: string) => {
    t.equal(res.statusCode, status, what)
    t.equal(res.json().code, code, what)
    t.notOk(res.cookies.some(({ name }) => name === '__Host-mpa_session'), `${what}: no session cookie`)
  }

  const unknown = await authorize(app, 'wechat-oa')
  await expect(await app.inject({ url: '/auth/wechat-oa/callback?code=abc&state=' + 'A'.repeat(22), headers: { cookie: unknown.cookie } }), 400, 'MPA_OAUTH_STATE_INVALID', 'a state we never made')
  await expect(await app.inject({ url: '/auth/wechat-oa/callback?code=abc' }), 400, 'FST_ERR_VALIDATION', 'no state at all')

  const foreign = await authorize(app, 'wechat-oa')
  const foreignBack = await world.consent(foreign.location, 'ann')
  const other = await authorize(app, 'wechat-oa')
  await expect(await callback(app, foreignBack, other.cookie), 403, 'MPA_OAUTH_STATE_INVALID', 'another browser\'s nonce')
  await expect(await callback(app, foreignBack, foreign.cookie), 400, 'MPA_OAUTH_STATE_INVALID', 'and the state is spent by that try')
  const none = await authorize(app, 'wechat-oa')
  await expect(await callback(app, await world.consent(none.location, 'ann'), ''), 403, 'MPA_OAUTH_STATE_INVALID', 'no nonce at all')

  const oa = await authorize(app, 'wechat-oa')
  const oaBack = await world.consent(oa.location, 'ann')
  await expect(await app.inject({ url: '/auth/wechat-web/callback' + oaBack.search, headers: { cookie: oa.cookie } }), 400, 'MPA_OAUTH_STATE_INVALID', 'an official-account state at the website callback')

  const refused = await authorize(app, 'wechat-oa')
  const refusedBack = await world.consent(refused.location, 'refuse')
  t.notOk(refusedBack.searchParams.has('code'), 'WeChat sends the state without a code')
  await expect(await callback(app, refusedBack, refused.cookie), 403, 'MPA_OAUTH_REFUSED', 'refused consent')

  const late = await authorize(app, 'wechat-oa')
  const lateBack = await world.consent(late.location, 'ann')
  await new Promise((resolve) => setTimeout(resolve, 1100))
  await expect(await callback(app, lateBack, late.cookie), 400, 'MPA_OAUTH_STATE_INVALID', 'a state past web.stateTtl')
  t.same(world.identities, [], 'no login went through')
  world.assertNoSecrets(t)
})

test('authorize refuses every target off the allow-list', async (t) => {
  const world = await OAuthWorld.create(t, 'oauth-redirects')
  const app = await world.build()
  for (const target of [
    'https://evil.example/', '//evil.example/', '/\\evil.example', 'https://app.example.test@evil.example/', 'https://app.example.test.evil.example/',
    'javascript:alert(1)', 'https://app.example.test:8443/', 'http://app.example.test/', 'https:\\\\app.example.test\\', '/orders'
  ]) {
    const res = await app.inject({ url: `/auth/wechat-web/authorize?redirect=${encodeURIComponent(target)}` })
    t.equal(res.json().code, 'MPA_REDIRECT_REFUSED', target)
    t.notOk(res.headers.location, `${target}: no redirect`)
  }
  t.equal((await app.inject({ url: '/auth/wechat-web/authorize' })).json().code, 'FST_ERR_VALIDATION', 'no target')
  t.equal((await app.inject({ url: `/auth/wechat-web/authorize?redirect=${encodeURIComponent(TARGET)}&appId=wx-other` })).json().code, 'MPA_UNKNOWN_APP')
})

test('WeChat\'s refusals and failures at the code exchange', async (t) => {
  const world = await OAuthWorld.create(t, 'oauth-upstream')
  const app = await world.build()
  const attempt = async (fault?: () => void) => {
    const start = await authorize(app, 'wechat-oa')
    const back = await world.consent(start.location, 'ann')
    fault?.()
    return (await callback(app, back, start.cookie)).json()
  }
  t.equal((await attempt(() => world.sandbox.fail('access_token', { errcode: 40163 }))).code, 'MPA_CODE_INVALID', '40163 code been used')
  t.equal((await attempt(() => world.sandbox.fail('access_token', { errcode: 40029 }))).code, 'MPA_CODE_INVALID', '40029 invalid code')
  t.equal((await attempt(() => world.sandbox.fail('userinfo', { errcode: 48001 }))).code, 'MPA_UPSTREAM_ERROR', 'sns/userinfo refused: the login fails (its unionid may be what joins the user)')
  t.equal((await attempt(() => world.sandbox.fail('access_token', { malformed: true }))).code, 'MPA_UPSTREAM_ERROR')
  t.equal((await attempt(() => world.sandbox.fail('access_token', { errcode: 40125 }))).code, 'MPA_MISCONFIGURED')
  t.equal((await world.post(app, '/auth/wechat-app/login', { code: world.sandbox.issueAppCode('bob', MOBILE_APP.appId) })).json.user.id,
    `wechat-app:${world.sandbox.openIdOf('bob', MOBILE_APP.appId)}`, 'no unionid: the openid')
  world.assertNoSecrets(t)
})

test('the surfaces\' options are checked at register', async (t) => {
  const world = await OAuthWorld.create(t, 'oauth-options')
  const fails = async (options: object) => (await world.build(options).catch((err: Error) => err) as Error).message
  const oa = { ...OA_APP, callbackUrl: 'https://api.example.test/auth/wechat-oa/callback' }
  t.match(await fails({ web: undefined }), /^wechatOa and wechatWeb need the web option/)
  t.match(await fails({ wechatOa: { ...OA_APP } }), /^wechatOa\.callbackUrl must be the absolute URL of our callback route/)
  t.match(await fails({ wechatOa: { ...oa, callbackUrl: '/auth/wechat-oa/callback' } }), /^wechatOa\.callbackUrl/)
  t.match(await fails({ wechatOa: { ...oa, scope: 'snsapi_login' } }), /^wechatOa\.scope must be 'snsapi_base' or 'snsapi_userinfo'/)
  t.match(await fails({ wechatWeb: [{ ...WEB_APP, callbackUrl: 'https://a.example/cb', scope: 'snsapi_base' }] }), /^wechatWeb\[0\]\.scope must be 'snsapi_login'/)
  t.match(await fails({ wechatApp: { ...MOBILE_APP, callbackUrl: 'https://a.example/cb' } }), /^wechatApp\.callbackUrl is for the browser logins/)
  t.match(await fails({ wechatOa: { ...oa, authorizeUrl: 'ftp://x' } }), /^wechatOa\.authorizeUrl must be an http\(s\) URL/)
  t.match(await fails({ web: { redirects: [TARGET], stateTtl: 'soon' } }), /^web\.stateTtl/)
})

test('the login rate limit counts a browser\'s authorize and callback requests, as a login\'s', async (t) => {
  const world = await OAuthWorld.create(t, 'oauth-limit')
  const app = await world.build({ rateLimit: { max: 2, timeWindow: '1m' } })
  const first = await authorize(app, 'wechat-web')
  t.equal(first.res.statusCode, 302)
  const back = await world.consent(first.location, 'ann')
  t.equal((await callback(app, back, first.cookie)).statusCode, 302, 'authorize and callback: two of two')
  const limited = await authorize(app, 'wechat-web', TARGET, first.cookie)
  t.equal(limited.res.statusCode, 429)
  t.equal(limited.res.json().code, 'MPA_RATE_LIMITED')
  t.ok(limited.res.headers['retry-after'], 'says when to come back')
})
