import { test } from 'tap'
import fastifyCookie from '@fastify/cookie'
import type { FastifyInstance } from 'fastify'
import type { Identity } from '../../index.js'
import { kWebSessions } from '../../plugins/web-sessions.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { commandsOn, monitorRedis } from '../helpers/monitor.js'
import { World } from '../helpers/world.js'

// The cookie foundation of the browser surfaces: the session cookie's
// attributes, authenticate reading it after the header, the logout route
// and its CSRF rule, the browser nonce.

const identity: Identity = { provider: 'wechat', appId: 'wx4f4bc4dec97d474b', openId: 'o-cookie-user' }
const REDIRECTS = ['https://app.example.com/']

/** An app with the web option and two routes that start a cookie session and bind the browser. */
async function webApp (world: World, options: Parameters<World['build']>[0] = {}): Promise<FastifyInstance> {
  return world.build({ web: { redirects: REDIRECTS }, ...options }, (app) => {
    app.post('/test/start', async (request, reply) => {
      const created = await app.sessions.create(identity, { user: { id: (request.body as { user: string }).user } })
      app[kWebSessions].start(reply, created)
      return { expiresAt: created.expiresAt }
    })
    app.get('/test/browser', async (request, reply) => {
      const bound = app[kWebSessions].boundBrowserOf(request)
      const first = app[kWebSessions].browserOf(request, reply)
      return { bound, first, again: app[kWebSessions].browserOf(request, reply) }
    })
  })
}

async function start (app: FastifyInstance, user: string) {
  const res = await app.inject({ method: 'POST', url: '/test/start', payload: { user } })
  const cookie = res.cookies.find(({ name }) => name === '__Host-mpa_session')!
  return { res, cookie, header: `__Host-mpa_session=${cookie.value}` }
}

test('the session cookie: HttpOnly, Secure, SameSite=Lax, Path=/, no Domain, Max-Age to the expiry; its value the skey', async (t) => {
  const world = new World(t, 'web-cookie')
  const app = await webApp(world)
  const sentAt = Date.now()
  const { res, cookie } = await start(app, 'u1')
  const raw = String(res.headers['set-cookie'])
  t.match(raw, /^__Host-mpa_session=[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Lax$/, raw.replace(/=[A-Za-z0-9_-]{43}/, '=<skey>'))
  // Whole seconds left when the cookie was set, some time between the request and now.
  const maxAgeMs = cookie.maxAge! * 1000
  const { expiresAt } = res.json<{ expiresAt: number }>()
  t.ok(maxAgeMs <= expiresAt - sentAt && maxAgeMs > expiresAt - Date.now() - 1000, 'Max-Age is the time to the session\'s expiry')
  t.ok(await app.sessions.get(cookie.value), 'the value is the skey of a live session')
  world.assertNoSecrets(t)
})

test('authenticate reads the cookie after the header and Bearer; the session is an ordinary one', async (t) => {
  const world = new World(t, 'web-auth')
  const app = await webApp(world)
  const alice = await start(app, 'alice')
  const bob = await start(app, 'bob')
  const me = await app.inject({ url: '/me', headers: { cookie: `other=1; ${alice.header}` } })
  t.equal(me.statusCode, 200)
  t.equal(me.json().user.id, 'alice', 'the cookie authenticates')
  const bobSkey = bob.cookie.value
  t.equal((await app.inject({ url: '/me', headers: { cookie: alice.header, 'x-skey': bobSkey } })).json().user.id, 'bob', 'the header wins over the cookie')
  t.equal((await app.inject({ url: '/me', headers: { cookie: alice.header, authorization: `Bearer ${bobSkey}` } })).json().user.id, 'bob', 'Bearer wins over the cookie')
  const renewed = me.cookies.find(({ name }) => name === '__Host-mpa_session')
  t.equal(renewed?.value, alice.cookie.value, 'a reply to the cookie sets it again (the session lives on while used)')
  t.ok(renewed!.maxAge! >= alice.cookie.maxAge! - 5 && renewed!.httpOnly && renewed!.secure, 'to the session\'s expiry, with its attributes')
  t.notOk((await app.inject({ url: '/me', headers: { 'x-skey': bobSkey } })).headers['set-cookie'], 'a header\'s reply sets no cookie')
  const listed = await app.inject({ url: '/auth/sessions', headers: { cookie: alice.header } })
  t.same(listed.json().sessions.map((s: { current: boolean }) => s.current), [true], 'listed with the user\'s sessions, current')
  t.equal((await app.inject({ url: '/me', headers: { cookie: '__Host-mpa_session=short' } })).json().code, 'MPA_SKEY_MALFORMED')
  t.equal((await app.inject({ url: '/me', headers: { cookie: `__Host-mpa_session=${'A'.repeat(43)}` } })).json().code, 'MPA_SESSION_EXPIRED')
  t.equal((await app.inject({ url: '/me', headers: { cookie: 'mpa_session=x; other=1' } })).json().code, 'MPA_SKEY_MISSING', 'another cookie is no session')

  await app.sessions.revoke({ userId: 'alice' }, { reason: 'admin' })
  const revoked = await app.inject({ url: '/me', headers: { cookie: alice.header } })
  t.equal(revoked.statusCode, 401)
  t.equal(revoked.json().code, 'MPA_SESSION_REVOKED', 'a revoked session\'s cookie is refused, and says why')
  world.assertNoSecrets(t)
})

test('a cookie session is served from the session cache like any other: a hit makes no Redis call', async (t) => {
  const world = new World(t, 'web-cache')
  // A lease no busy test machine lets lapse: this is about hits, not about a lapsed lease's misses.
  const app = await webApp(world, { session: { cache: { lease: '5s', heartbeat: '10s' } } })
  // The session is made before the cache's tracking starts: the invalidation
  // of its own write, if it came after the first read, would empty the cache.
  const { header } = await start(app, 'erin')
  app.sessions.open()
  for (let i = 0; i < 500 && !app.sessions.caching; i++) await sleep(10)
  t.ok(app.sessions.caching, 'the cache is on')
  const monitor = await monitorRedis(world.redis)
  t.teardown(() => monitor.stop())
  const reads: number[] = []
  const cookies: unknown[] = []
  for (let i = 0; i < 2; i++) {
    await monitor.settle()
    const before = commandsOn(monitor.commands, world.prefix).length
    const res = await app.inject({ url: '/me', headers: { cookie: header } })
    t.equal(res.statusCode, 200)
    cookies.push(res.headers['set-cookie'])
    await monitor.settle()
    reads.push(commandsOn(monitor.commands, world.prefix).length - before)
  }
  t.ok(reads[0]! > 0, 'the first read is Redis\'s')
  t.equal(reads[1], 0, 'the second a cache hit')
  t.ok(cookies[0], 'the session as read from Redis: its cookie set again, to its expiry')
  t.notOk(cookies[1], 'the same session from the cache: the cookie already says its expiry, no Set-Cookie')
})

test('without the web option no cookie authenticates', async (t) => {
  const world = new World(t, 'web-none')
  const app = await world.build()
  const { skey } = await app.sessions.create(identity, { user: { id: 'u' } })
  t.equal((await app.inject({ url: '/me', headers: { cookie: `__Host-mpa_session=${skey}` } })).json().code, 'MPA_SKEY_MISSING')
  t.equal((await app.inject({ method: 'POST', url: '/auth/web/logout', headers: { cookie: `__Host-mpa_session=${skey}` } })).statusCode, 404, 'no logout route')
})

test('POST /web/logout: refuses a post another site could forge, ends the session and clears the cookie', async (t) => {
  const world = new World(t, 'web-logout')
  const app = await webApp(world)
  const { cookie, header } = await start(app, 'carol')
  const logout = (headers: Record<string, string>, payload?: string) => app.inject({ method: 'POST', url: '/auth/web/logout', headers: { cookie: header, ...headers }, ...(payload === undefined ? {} : { payload }) })

  for (const [what, headers, payload] of [
    ['no body', {}, undefined],
    ['a form', { 'content-type': 'application/x-www-form-urlencoded' }, 'a=1'],
    ['text/plain', { 'content-type': 'text/plain' }, 'x'],
    ['a JSON look-alike', { 'content-type': 'application/jsonx' }, '{}']
  ] as const) {
    const refused = await logout(headers, payload)
    t.equal(refused.json().code, refused.statusCode === 415 ? 'FST_ERR_CTP_INVALID_MEDIA_TYPE' : 'MPA_CSRF_REFUSED', `${what}: ${refused.statusCode}`)
    t.same(refused.cookies, [], `${what}: the cookie stays`)
  }
  t.ok(await app.sessions.get(cookie.value), 'the session lives')

  const done = await logout({ 'x-requested-with': 'fetch' })
  t.equal(done.statusCode, 204)
  const cleared = done.cookies.find(({ name }) => name === '__Host-mpa_session')!
  t.equal(cleared.value, '', 'the cookie is cleared')
  t.ok(cleared.expires!.getTime() <= Date.now() && cleared.secure && cleared.path === '/', 'expired, with the attributes a __Host- cookie needs to be replaced')
  t.equal(await app.sessions.get(cookie.value), null, 'the session ended')

  const again = await logout({ 'content-type': 'application/json' }, '{}')
  t.equal(again.json().code, 'MPA_SESSION_REVOKED', 'a JSON post passes the CSRF rule; the ended session is refused')
  t.ok(again.cookies.some(({ name, value }) => name === '__Host-mpa_session' && value === ''), 'and its stale cookie cleared')
  t.equal((await app.inject({ url: '/me', headers: { cookie: header } })).json().code, 'MPA_SESSION_REVOKED')
  t.equal((await app.inject({ method: 'DELETE', url: '/auth/session', headers: { cookie: (await start(app, 'dave')).header } })).statusCode, 204,
    'a DELETE needs no CSRF header (browsers preflight it)')
  world.assertNoSecrets(t)
})

test('the browser nonce: 128 random bits in its own cookie, set once, read back', async (t) => {
  for (const appCookie of [false, true]) {
    await t.test(appCookie ? 'the app registered @fastify/cookie first (its parsing hook)' : 'our @fastify/cookie (no parsing hook)', async (t) => {
      const world = new World(t, 'web-nonce')
      const app = await webApp(world, appCookie ? { before: async (app) => { await app.register(fastifyCookie) } } : {})
      const first = await app.inject({ url: '/test/browser' })
      const { bound, first: nonce, again } = first.json()
      t.equal(bound, null, 'none before')
      t.match(nonce, /^[A-Za-z0-9_-]{22}$/)
      t.equal(again, nonce, 'the same within a request')
      t.match(String(first.headers['set-cookie']), new RegExp(`^__Host-mpa_browser=${nonce}; Path=/; HttpOnly; Secure; SameSite=Lax$`))
      const back = await app.inject({ url: '/test/browser', headers: { cookie: `__Host-mpa_browser=${nonce}` } })
      t.same(back.json(), { bound: nonce, first: nonce, again: nonce }, 'read back')
      t.notOk(back.headers['set-cookie'], 'not set again')
      const forged = await app.inject({ url: '/test/browser', headers: { cookie: '__Host-mpa_browser=chosen-by-attacker' } })
      t.equal(forged.json().bound, null, 'a nonce that is not one of ours is none')
      t.not(forged.json().first, 'chosen-by-attacker', 'and is replaced')
    })
  }
})

test('web.cookie for local http: secure false, with names of its own or the defaults without the __Host- prefix', async (t) => {
  const cases = [
    { cookie: { name: 'dev_session', browserName: 'dev_browser', secure: false, sameSite: 'strict' as const }, name: 'dev_session', sameSite: 'Strict' },
    { cookie: { secure: false }, name: 'mpa_session', sameSite: 'Lax' }
  ]
  for (const [i, { cookie, name, sameSite }] of cases.entries()) {
    const world = new World(t, `web-dev-${i}`)
    const app = await world.build({ web: { cookie } }, (app) => {
      app.post('/test/start', async (_request, reply) => {
        app[kWebSessions].start(reply, await app.sessions.create(identity, { user: { id: 'dev' } }))
        return null
      })
    })
    const res = await app.inject({ method: 'POST', url: '/test/start' })
    t.match(String(res.headers['set-cookie']), new RegExp(`^${name}=[A-Za-z0-9_-]{43}; Max-Age=\\d+; Path=/; HttpOnly; SameSite=${sameSite}$`), JSON.stringify(cookie))
    t.equal((await app.inject({ url: '/me', headers: { cookie: `${name}=${res.cookies[0]!.value}` } })).statusCode, 200)
  }
})

test('bad web options fail at register, naming the option', async (t) => {
  const world = new World(t, 'web-options')
  const fails = async (web: unknown) => (await world.build({ web } as never).catch((err: Error) => err) as Error).message
  t.match(await fails('on'), /^web must be an object/)
  t.match(await fails({ cookies: {} }), /^unknown option web\.cookies/)
  t.match(await fails({ cookie: { name: '__Host-s', secure: false } }), /^web\.cookie\.name '__Host-s' cannot use the __Host- prefix with secure: false/)
  t.match(await fails({ cookie: { browserName: '__Host-b', secure: false } }), /^web\.cookie\.browserName '__Host-b' cannot use the __Host- prefix/)
  t.match(await fails({ cookie: { name: '__Secure-s', browserName: 'b', secure: false } }), /^web\.cookie\.name '__Secure-s' cannot use the __Secure- prefix/)
  t.match(await fails({ cookie: { sameSite: 'none' } }), /^web\.cookie\.sameSite must be 'lax' or 'strict'/)
  t.match(await fails({ cookie: { secure: 'yes' } }), /^web\.cookie\.secure must be a boolean/)
  t.match(await fails({ cookie: { name: 'a b' } }), /^web\.cookie\.name must be a cookie name/)
  t.match(await fails({ cookie: { name: 'x', browserName: 'x' } }), /^web\.cookie\.name and web\.cookie\.browserName must differ/)
  t.match(await fails({ cookie: { size: 1 } }), /^unknown option web\.cookie\.size/)
  t.match(await fails({ redirects: 'https://app.example.com' }), /^web\.redirects must be an array/)
  for (const entry of ['//app.example.com/', '/account', 'https://app.example.com/?next=1', 'https://u:p@app.example.com/', 'javascript:alert(1)', 'https://app.example.com\\evil']) {
    t.match(await fails({ redirects: [entry] }), /^web\.redirects\[0\] must be an absolute http\(s\) URL/, entry)
  }
})
