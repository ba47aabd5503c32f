import tap, { test, type Test } from 'tap'
import { fileURLToPath } from 'node:url'
import { createContext, runInContext } from 'node:vm'
import { setTimeout as sleep } from 'node:timers/promises'
import { parse } from 'acorn'
import ts from 'typescript'
import type { FastifyInstance } from 'fastify'
import { errors } from '../../index.js'
import type { AlipaySandboxUser, WechatSandboxUser } from '../../sandbox/index.js'
import { AuthClientError, createAuthClient, type AuthClientOptions, type MyApi, type WxApi } from '../../client/index.js'
import { PlatformsWorld } from '../helpers/platforms.js'

// The client helper against the real server over HTTP, the real sandboxes and
// Redis. The fake wx and my do real HTTP, with each platform's shape.

const WECHAT_APP = { appId: 'wx0000000000client', appSecret: 'client-test-secret-0123456789abcdef' }
const world = await PlatformsWorld.create(tap, 'client', WECHAT_APP, '2021000000client1')
const { wechat: wechatSandbox, alipay: alipaySandbox } = world

interface ServerOptions {
  ttl?: string
  header?: string
}

/** A listening app with both platforms, a protected route and a route that always says "log in again". */
async function server (t: Test, options: ServerOptions = {}): Promise<{ app: FastifyInstance, baseUrl: string }> {
  const app = await world.build({
    keyPrefix: world.subPrefix('client'),
    session: { ttl: options.ttl ?? '1h', maxAge: '2h', ...(options.header ? { header: options.header } : {}) },
    me: false
  }, (app) => {
    app.get('/me', { preHandler: app.authenticate }, async (request) => ({ user: request.user, query: request.query }))
    app.post<{ Body: { n: number } }>('/orders', {
      preHandler: app.authenticate,
      schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } }
    }, async (request, reply) => reply.code(201).send({ n: request.body.n, by: request.user.id }))
    app.get('/always-expired', async () => { throw new errors.SessionExpiredError() })
    app.get('/slowly-expired', async () => {
      await sleep(300)
      throw new errors.SessionExpiredError()
    })
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  // Closed when the test ends (the world would close it at the end of the file).
  t.teardown(() => app.close())
  const { port } = app.server.address() as { port: number }
  return { app, baseUrl: `http://127.0.0.1:${port}` }
}

interface Sent {
  method: string
  url: string
  headers: Record<string, string>
  body: string | undefined
}

/** One real HTTP exchange, recorded. */
async function http (sent: Sent[], url: string, method: string, data: unknown, headers: Record<string, string>) {
  const body = typeof data === 'string' ? data : undefined
  sent.push({ method, url, headers, body })
  const response = await fetch(url, { method, headers, body })
  return { status: response.status, text: await response.text(), headers: Object.fromEntries(response.headers) }
}

/** A fake `wx`: callback APIs, `header`/`statusCode`, storage by key. */
function fakeWx (user: WechatSandboxUser) {
  const storage = new Map<string, string>()
  const sent: Sent[] = []
  // hold: wx.login answers only once it settles, to act while a login is in flight.
  const state = { logins: 0, loginFails: false, hold: null as Promise<void> | null }
  const wx: WxApi = {
    login ({ success, fail }) {
      state.logins++
      const answer = () => setImmediate(() => state.loginFails ? fail?.({ errMsg: 'login:fail network' }) : success?.({ code: wechatSandbox.issueCode(user) }))
      if (state.hold) state.hold.then(answer, answer)
      else answer()
    },
    request ({ url, method, data, header, dataType, success, fail }) {
      http(sent, url, method, data, header).then(({ status, text, headers }) => {
        success?.({ statusCode: status, header: headers, data: dataType === 'json' ? JSON.parse(text) : text })
      }, (err: Error) => fail?.({ errMsg: `request:fail ${err.message}` }))
    },
    getStorageSync: (key) => storage.get(key) ?? '',
    setStorageSync: (key, data) => { storage.set(key, data) },
    removeStorageSync: (key) => { storage.delete(key) }
  }
  return { wx, storage, sent, state }
}

/** A fake `my`: `headers`/`status`, fail on a non-2xx status (error 19), storage by object. */
function fakeMy (user: AlipaySandboxUser) {
  const storage = new Map<string, string>()
  const sent: Sent[] = []
  const state = { logins: 0, scopes: [] as string[] }
  const my: MyApi = {
    getAuthCode ({ scopes, success }) {
      state.logins++
      state.scopes.push(scopes)
      setImmediate(() => success?.({ authCode: alipaySandbox.issueAuthCode({ ...user, scope: scopes }) }))
    },
    request ({ url, method, data, headers, dataType, success, fail }) {
      http(sent, url, method, data, headers).then(({ status, text, headers: replyHeaders }) => {
        const reply = { status, headers: replyHeaders, data: dataType === 'json' ? JSON.parse(text) : text }
        if (status >= 200 && status < 300) success?.(reply)
        else fail?.({ error: 19, errorMessage: 'http status error', ...reply })
      }, (err: Error) => fail?.({ error: 12, errorMessage: err.message }))
    },
    getStorageSync: ({ key }) => ({ data: storage.get(key) }),
    setStorageSync: ({ key, data }) => { storage.set(key, data) },
    removeStorageSync: ({ key }) => { storage.delete(key) }
  }
  return { my, storage, sent, state }
}

const alice: WechatSandboxUser = { openId: 'oClientAlice000000000000001' }
const userIdOf = (openId: string) => `wechat:${WECHAT_APP.appId}:${openId}`

function wechatClient (baseUrl: string, user: WechatSandboxUser = alice, extra: Partial<AuthClientOptions> = {}) {
  const fake = fakeWx(user)
  return { ...fake, client: createAuthClient({ baseUrl, platform: 'wechat', api: fake.wx, ...extra }) }
}

/** The mini-program build, as `npm run build` makes it: client/ compiled with tsconfig.client.json, in memory. */
function miniprogramBuild () {
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d: ts.Diagnostic) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')) } }
  const config = ts.getParsedCommandLineOfConfigFile(fileURLToPath(new URL('../../tsconfig.client.json', import.meta.url)), {}, host)!
  const program = ts.createProgram(config.fileNames, config.options)
  const files: Record<string, string> = {}
  program.emit(undefined, (name, text) => { files[name.slice(name.lastIndexOf('/') + 1)] = text })
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
  return { config, files, diagnostics }
}

/**
 * Runs a CommonJS module the way a mini-program does: inside a function whose
 * parameters are the module's free variables (`wx` or `my` among them), in a
 * realm that has nothing but the ECMAScript built-ins.
 */
function loadInMiniprogram (code: string, injected: { wx: WxApi } | { my: MyApi }) {
  const context = createContext({})
  const names = Object.keys(injected)
  const run = runInContext(`(function (module, exports, ${names.join(', ')}) {${code}\n})`, context) as (...args: unknown[]) => void
  const module = runInContext('({ exports: {} })', context) as { exports: typeof import('../../client/index.js') }
  run(module, module.exports, ...Object.values(injected))
  const missing = ['URL', 'fetch', 'TextEncoder', 'Buffer', 'setImmediate', 'setTimeout', 'process', 'require', 'wx', 'my']
    .filter((name) => runInContext(`typeof globalThis.${name}`, context) !== 'undefined')
  return { exports: module.exports, leaked: missing }
}

test('the mini-program build: ES2017 CommonJS that runs with nothing but wx or my', async (t) => {
  const { config, files, diagnostics } = miniprogramBuild()
  t.same(diagnostics, [], 'type-checks against the ES2017 library alone, no Node or DOM types')
  t.match(config.options, { target: ts.ScriptTarget.ES2017, module: ts.ModuleKind.CommonJS })
  const code = files['index.js']!
  t.ok(code, 'emits index.js')
  t.doesNotThrow(() => parse(code, { ecmaVersion: 2017, sourceType: 'script' }), 'parses as ES2017: no class fields, ??=, ?. or ??')
  t.notMatch(code, /\brequire\(/, 'requires nothing')

  const { baseUrl } = await server(t)
  const fake = fakeWx(alice)
  const wechat = loadInMiniprogram(code, { wx: fake.wx })
  t.same(wechat.leaked, [], 'the realm has no Node or web globals, and wx only as a free variable')
  const client = wechat.exports.createAuthClient({ baseUrl, platform: 'wechat' }) // no api: finds the free wx
  const { skey } = await client.login()
  t.equal(fake.storage.get('mpa:skey'), skey)
  const me = await client.request<{ user: { id: string }, query: Record<string, string> }>({ url: '/me?a=1', data: { b: 'x y' } })
  t.same(me, { user: { id: userIdOf(alice.openId) }, query: { a: '1', b: 'x y' } })
  t.same(await client.request({ url: '/orders', method: 'POST', data: { n: 1 } }), { n: 1, by: userIdOf(alice.openId) })

  const phone = fakeMy({ openId: '074a1d3d0000000000000000vmvm' })
  const alipay = loadInMiniprogram(code, { my: phone.my }).exports.createAuthClient({ baseUrl, platform: 'alipay' })
  const reply = await alipay.login()
  t.equal(phone.storage.get('mpa:skey'), reply.skey, 'alipay: the free my, no wx in scope at all')
  t.equal((await alipay.request<{ user: { id: string } }>({ url: '/me' })).user.id, reply.user.id)
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
  const { baseUrl } = await server(t, { ttl: '2s' })
  const { client, state, sent } = wechatClient(baseUrl)
  const first = await client.login()
  await sleep(2600)
  const me = await client.request<{ user: { id: string } }>({ url: '/me' })
  t.equal(me.user.id, userIdOf(alice.openId), 'the request succeeded after the re-login')
  t.equal(state.logins, 2, 'one wx.login for the re-login')
  t.not(client.skey(), first.skey, 'a new skey is stored')
  t.same(sent.map((s) => `${s.method} ${new URL(s.url).pathname}`), ['POST /auth/wechat/login', 'GET /me', 'POST /auth/wechat/login', 'GET /me'])
})

test('wechat: a revoked skey, and concurrent requests during the re-login, share one login', async (t) => {
  const { app, baseUrl } = await server(t)
  const { client, state, sent } = wechatClient(baseUrl)
  const { skey } = await client.login()
  t.ok(await app.sessions.revoke(skey), 'revoked on the server (another device logged out everywhere)')

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
  const { baseUrl } = await server(t)
  const { client, state } = wechatClient(baseUrl)
  await client.login()
  const pending = client.request({ url: '/slowly-expired' }).catch((err: unknown) => err)
  await sleep(50) // the request has left
  await client.logout()
  t.match(await pending, { statusCode: 401, code: 'MPA_SESSION_EXPIRED' }, 'the caller gets the 401')
  t.equal(state.logins, 1, 'no login after the logout')
  t.equal(client.skey(), null, 'the device stays logged out')
})

test('wechat: logout revokes on the server and forgets the skey', async (t) => {
  const { app, baseUrl } = await server(t)
  const { client, storage } = wechatClient(baseUrl)
  const { skey } = await client.login()
  await client.logout()
  t.equal(storage.has('mpa:skey'), false, 'forgotten')
  t.equal(await app.sessions.get(skey), null, 'revoked on the server')
  await client.logout()
  t.pass('logging out with no skey is a no-op')

  // Logged out meanwhile on the server: the 401 counts as logged out.
  const again = await client.login()
  await app.sessions.revoke(again.skey)
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
    await app.sessions.revoke(first.skey)
    let release = () => {}
    state.hold = new Promise((resolve) => { release = resolve })
    const request = client.request({ url: '/me' }).catch(() => {}) // its retry races the logout: either outcome is fine
    while (state.logins < 2) await sleep(5) // the 401 came back, the re-login is waiting on wx.login
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
  const phoneA = fakeMy(user)
  const phoneB = fakeMy(user)
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

  // Device B learns it on its next request (my.request fails with status 401) and logs in again by itself.
  const again = await clientB.request<{ user: { id: string } }>({ url: '/me' })
  t.equal(again.user.id, a.user.id)
  t.same(phoneB.state.scopes, ['auth_user', 'auth_user'], 're-login with the client\'s scope')

  const override = await clientA.login({ scope: 'auth_user' })
  t.equal(override.profile, 'ok', 'login({ scope }) overrides')
})

test('alipay: concurrent logins share one my.getAuthCode per scope', async (t) => {
  const { baseUrl } = await server(t)
  const phone = fakeMy({ openId: '074a1d3d0000000000000000scope', profile: { nickName: 'Scope' } })
  const client = createAuthClient({ baseUrl, platform: 'alipay', api: phone.my })
  const [base, user, sameUser] = await Promise.all([client.login(), client.login({ scope: 'auth_user' }), client.login({ scope: 'auth_user' })])
  t.same([...phone.state.scopes].sort(), ['auth_base', 'auth_user'], 'one auth_base and one auth_user, not one for all')
  t.equal(user.profile, 'ok', 'the auth_user caller gets its profile')
  t.equal(sameUser, user, 'the two auth_user callers share one login')
  t.not(base, user)
  t.ok([base.skey, user.skey].includes(client.skey()!), 'one of them is stored')
})

test('options are checked', async (t) => {
  t.throws(() => createAuthClient({ baseUrl: 'http://x', platform: 'qq' as 'wechat', api: fakeWx(alice).wx }), /platform must be 'wechat' or 'alipay'/)
  t.throws(() => createAuthClient({ baseUrl: '/relative', platform: 'wechat', api: fakeWx(alice).wx }), /baseUrl must be an http\(s\) URL/)
  t.throws(() => createAuthClient({ baseUrl: 'https://user@api.example.com', platform: 'wechat', api: fakeWx(alice).wx }), /baseUrl must be an http\(s\) URL/, 'no credentials in baseUrl')
  t.throws(() => createAuthClient({ baseUrl: 'http://x', platform: 'alipay' }), /no my object/)
})

test('no session_key, token, app secret or private key in any reply, no skey in any log line', async (t) => {
  world.assertNoSecrets(t)
})
