import tap, { test, type Test } from 'tap'
import { createPublicKey, randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { createContext, runInContext } from 'node:vm'
import { parse } from 'acorn'
import ts from 'typescript'
import type { FastifyInstance } from 'fastify'
import { errors } from '../../index.js'
import { createDouyinSandbox, createQqSandbox, type AlipayPhoneOptions, type AlipaySandboxUser, type DouyinSandboxUser, type WechatSandbox, type WechatSandboxUser } from '../../sandbox/index.js'
import { AuthClientError, createAuthClient, type AuthClientOptions, type MyApi, type Platform, type TtApi, type WxApi } from '../../client/index.js'
import { sessionIdOf } from '../../lib/skey.js'
import { keyOf } from '../helpers/keys.js'
import { PlatformsWorld } from '../helpers/platforms.js'

// The client helper against the real server over HTTP, the real sandboxes and
// Redis. The fakes of wx, my, tt and qq do real HTTP, each with its platform's
// shapes, and their login calls hand out the sandboxes' codes.

const WECHAT_APP = { appId: 'wx0000000000client', appSecret: 'client-test-secret-0123456789abcdef' }
const DOUYIN_APP = { appId: 'tt0000000000client', appSecret: 'client-douyin-secret-0123456789abcdef' }
const QQ_APP = { appId: '1112000000', appSecret: 'client-qq-secret-0123456789abcdef' }
const douyinSandbox = await createDouyinSandbox({ apps: { [DOUYIN_APP.appId]: DOUYIN_APP.appSecret } })
const qqSandbox = await createQqSandbox({ apps: { [QQ_APP.appId]: QQ_APP.appSecret } })
tap.teardown(() => Promise.all([douyinSandbox.close(), qqSandbox.close()])) // first registered, last run: after the apps close
const world = await PlatformsWorld.create(tap, 'client', WECHAT_APP, '2021000000client1')
world.watch(() => [...douyinSandbox.secrets(), ...qqSandbox.secrets()])
const { wechat: wechatSandbox, alipay: alipaySandbox } = world
// The Alipay app again, now with the AES key that opens my.getPhoneNumber's payloads.
const ALIPAY_AES_KEY = randomBytes(16).toString('base64')
const alipayApp = { ...world.platforms.options.alipay, aesKey: ALIPAY_AES_KEY }
alipaySandbox.registerApp({ appId: alipayApp.appId, publicKey: createPublicKey(alipayApp.privateKey).export({ type: 'spki', format: 'pem' }).toString(), aesKey: ALIPAY_AES_KEY })
world.watch(() => [ALIPAY_AES_KEY])

interface ServerOptions {
  ttl?: string
  header?: string
}

/**
 * A route that answers only when the test says so: `arrived` resolves once a
 * request is in the handler, `release` lets it answer.
 */
interface Gate {
  arrived: Promise<void>
  release: () => void
}

function gate (): Gate & { arrive: () => void, released: Promise<void> } {
  let arrive = () => {}
  let release = () => {}
  const arrived = new Promise<void>((resolve) => { arrive = resolve })
  const released = new Promise<void>((resolve) => { release = resolve })
  return { arrived, arrive, released, release }
}

/**
 * A listening app with every platform, a protected route, a route that always
 * says "log in again", and one that says it once `slow` is released.
 */
async function server (t: Test, options: ServerOptions = {}): Promise<{ app: FastifyInstance, baseUrl: string, slow: Gate }> {
  const slow = gate()
  const app = await world.build({
    keyPrefix: world.subPrefix('client'),
    session: { ttl: options.ttl ?? '1h', maxAge: '2h', ...(options.header ? { header: options.header } : {}) },
    alipay: alipayApp,
    douyin: { ...DOUYIN_APP, baseUrl: douyinSandbox.url, anonymousLogin: true },
    qq: { ...QQ_APP, baseUrl: qqSandbox.url },
    me: false
  }, (app) => {
    app.get('/me', { preHandler: app.authenticate }, async (request) => ({ user: request.user, query: request.query }))
    app.post<{ Body: { n: number } }>('/orders', {
      preHandler: app.authenticate,
      schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } }
    }, async (request, reply) => reply.code(201).send({ n: request.body.n, by: request.user.id }))
    app.get('/always-expired', async () => { throw new errors.SessionExpiredError() })
    app.get('/slowly-expired', async () => {
      slow.arrive()
      await slow.released
      throw new errors.SessionExpiredError()
    })
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  // Closed when the test ends (the world would close it at the end of the file).
  t.teardown(() => app.close())
  t.teardown(slow.release) // registered last, run first: a test that failed early leaves no request hanging on close
  const { port } = app.server.address() as { port: number }
  return { app, baseUrl: `http://127.0.0.1:${port}`, slow: { arrived: slow.arrived, release: slow.release } }
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

interface LoginState {
  logins: number
  loginFails: boolean
  /** The login call answers only once it settles, to act while a login is in flight. */
  hold: Promise<void> | null
  /** Told of each login call as it is made, with the count so far. */
  onLogin?: (logins: number) => void
}

/** Plays a platform login call with wx's callbacks: a result from the sandbox, or `errMsg` while `loginFails`. */
function playLogin<T> (state: LoginState, result: () => T, { success, fail }: { success?: (result: T) => void, fail?: (error: unknown) => void }) {
  state.logins++
  state.onLogin?.(state.logins)
  const answer = () => setImmediate(() => state.loginFails ? fail?.({ errMsg: 'login:fail network' }) : success?.(result()))
  if (state.hold) state.hold.then(answer, answer)
  else answer()
}

/**
 * Request and storage as wx, tt and qq have them: `header`/`statusCode`,
 * success for any HTTP status, storage by key; `missing` is what reading a
 * key never written gives.
 */
function keyedPlatform (missing: (key: string) => unknown) {
  const storage = new Map<string, string>()
  const sent: Sent[] = []
  const api: Omit<WxApi, 'login'> = {
    request ({ url, method, data, header, dataType, success, fail }) {
      http(sent, url, method, data, header).then(({ status, text, headers }) => {
        success?.({ statusCode: status, header: headers, data: dataType === 'json' ? JSON.parse(text) : text })
      }, (err: Error) => fail?.({ errMsg: `request:fail ${err.message}` }))
    },
    getStorageSync: (key) => storage.has(key) ? storage.get(key) : missing(key),
    setStorageSync: (key, data) => { storage.set(key, data) },
    removeStorageSync: (key) => { storage.delete(key) }
  }
  return { api, storage, sent }
}

/** A fake `wx` or `qq` (the same shapes): its login hands out the sandbox's codes; a key never written reads as ''. */
function fakeCodePlatform (sandbox: WechatSandbox, user: WechatSandboxUser) {
  const { api: keyed, storage, sent } = keyedPlatform(() => '')
  const state: LoginState = { logins: 0, loginFails: false, hold: null }
  const api: WxApi = { ...keyed, login: (callbacks) => playLogin(state, () => ({ code: sandbox.issueCode(user) }), callbacks) }
  return { api, storage, sent, state }
}

const fakeWx = (user: WechatSandboxUser) => fakeCodePlatform(wechatSandbox, user)
const fakeQq = (user: WechatSandboxUser) => fakeCodePlatform(qqSandbox, user)

/** A fake `tt`: tt.login gives what the sandbox's does (no code for a user not logged in to Douyin); a key never written throws, as on Douyin. */
function fakeTt (user: DouyinSandboxUser) {
  const { api: keyed, storage, sent } = keyedPlatform((key) => { throw new Error(`getStorageSync:fail data not found, key == ${key}`) })
  const state: LoginState & { forces: Array<boolean | undefined> } = { logins: 0, loginFails: false, hold: null, forces: [] }
  const api: TtApi = {
    ...keyed,
    login: ({ force, ...callbacks }) => {
      state.forces.push(force)
      playLogin(state, () => ({ ...douyinSandbox.login(user), isLogin: user.openId !== undefined, errMsg: 'login:ok' }), callbacks)
    }
  }
  return { api, storage, sent, state }
}

/**
 * A fake `my`: `headers`/`status`, fail on a non-2xx status (error 19),
 * storage by object; my.getPhoneNumber gives the sandbox's payload made with
 * `state.phone`, or fails while `state.phoneDeclined`.
 */
function fakeMy (user: AlipaySandboxUser) {
  const storage = new Map<string, string>()
  const sent: Sent[] = []
  const state = { logins: 0, scopes: [] as string[], phone: {} as AlipayPhoneOptions, phoneDeclined: false }
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
    removeStorageSync: ({ key }) => { storage.delete(key) },
    getPhoneNumber ({ success, fail }) {
      setImmediate(() => state.phoneDeclined ? fail?.({ error: 11, errorMessage: 'the user declined' }) : success?.({ response: alipaySandbox.phonePayload(user, state.phone) }))
    }
  }
  return { my, api: my, storage, sent, state }
}

const alice: WechatSandboxUser = { openId: 'oClientAlice000000000000001' }
const dora: DouyinSandboxUser = { anonymousOpenId: 'aClientDoraDevice0000000001', openId: 'dClientDora0000000000000001', phone: '13900139000', profile: { nickName: 'Dora 抖音' } }
const userIdOf = (openId: string) => `wechat:${WECHAT_APP.appId}:${openId}`

function wechatClient (baseUrl: string, user: WechatSandboxUser = alice, extra: Partial<AuthClientOptions> = {}) {
  const fake = fakeWx(user)
  return { ...fake, client: createAuthClient({ baseUrl, platform: 'wechat', api: fake.api, ...extra }) }
}

/** The mini-program build, as `npm run build` makes it: client/ compiled with tsconfig.client.json, in memory. */
const miniprogramBuild = memo(() => {
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d: ts.Diagnostic) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')) } }
  const config = ts.getParsedCommandLineOfConfigFile(fileURLToPath(new URL('../../tsconfig.client.json', import.meta.url)), {}, host)!
  const program = ts.createProgram(config.fileNames, config.options)
  const files: Record<string, string> = {}
  program.emit(undefined, (name, text) => { files[name.slice(name.lastIndexOf('/') + 1)] = text })
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
  return { config, files, diagnostics }
})

/** Runs `make` once, on first use: the build takes seconds. */
function memo<T> (make: () => T): () => T {
  let made: { value: T } | undefined
  return () => (made ??= { value: make() }).value
}

/**
 * Runs a CommonJS module the way a mini-program does: inside a function whose
 * parameters are the module's free variables (the platform object among them), in a
 * realm that has nothing but the ECMAScript built-ins.
 */
function loadInMiniprogram (code: string, injected: Record<string, unknown>) {
  const context = createContext({})
  const names = Object.keys(injected)
  const run = runInContext(`(function (module, exports, ${names.join(', ')}) {${code}\n})`, context) as (...args: unknown[]) => void
  const module = runInContext('({ exports: {} })', context) as { exports: typeof import('../../client/index.js') }
  run(module, module.exports, ...Object.values(injected))
  const missing = ['URL', 'fetch', 'TextEncoder', 'Buffer', 'setImmediate', 'setTimeout', 'process', 'require', 'wx', 'my', 'tt', 'qq']
    .filter((name) => runInContext(`typeof globalThis.${name}`, context) !== 'undefined')
  return { exports: module.exports, leaked: missing }
}

test('the mini-program build: ES2017 CommonJS that requires nothing', async (t) => {
  const { config, files, diagnostics } = miniprogramBuild()
  t.same(diagnostics, [], 'type-checks against the ES2017 library alone, no Node or DOM types')
  t.match(config.options, { target: ts.ScriptTarget.ES2017, module: ts.ModuleKind.CommonJS })
  const code = files['index.js']!
  t.ok(code, 'emits index.js')
  t.doesNotThrow(() => parse(code, { ecmaVersion: 2017, sourceType: 'script' }), 'parses as ES2017: no class fields, ??=, ?. or ??')
  t.notMatch(code, /\brequire\(/, 'requires nothing')
})

interface PlatformCase {
  platform: Platform
  /** The platform object's free variable. */
  global: string
  /** A fake of the platform object, its login call handing out the sandbox's codes. */
  fake: () => { api: unknown, storage: Map<string, string>, sent: Sent[], state: { logins: number } }
  loginRoute: string
}

const PLATFORM_CASES: PlatformCase[] = [
  { platform: 'wechat', global: 'wx', fake: () => fakeWx(alice), loginRoute: '/auth/wechat/login' },
  { platform: 'alipay', global: 'my', fake: () => fakeMy({ openId: '074a1d3d0000000000000000vmvm' }), loginRoute: '/auth/alipay/login' },
  { platform: 'douyin', global: 'tt', fake: () => fakeTt(dora), loginRoute: '/auth/douyin/login' },
  { platform: 'qq', global: 'qq', fake: () => fakeQq({ openId: 'QQClientQuinn00000000000000000001' }), loginRoute: '/auth/qq/login' }
]

for (const { platform, global, fake, loginRoute } of PLATFORM_CASES) {
  test(`${platform}, built, in a realm with only ${global}: login, the skey on requests, a re-login after a revoke, logout`, async (t) => {
    const { app, baseUrl } = await server(t)
    const phone = fake()
    const { exports, leaked } = loadInMiniprogram(miniprogramBuild().files['index.js']!, { [global]: phone.api })
    t.same(leaked, [], `the realm has no Node or web globals, and ${global} only as a free variable`)
    const client = exports.createAuthClient({ baseUrl, platform }) // no api: finds the free variable

    const first = await client.login()
    t.equal(phone.storage.get('mpa:skey'), first.skey, 'the skey stored')
    const me = await client.request<{ user: { id: string }, query: Record<string, string> }>({ url: '/me?a=1', data: { b: 'x y' } })
    t.same(me, { user: { id: first.user.id }, query: { a: '1', b: 'x y' } })
    t.equal(phone.sent.at(-1)?.headers['x-skey'], first.skey, 'sent with the skey')
    t.same(await client.request({ url: '/orders', method: 'POST', data: { n: 1 } }), { n: 1, by: first.user.id }, 'a JSON body')

    t.ok(await app.sessions.revoke(first.skey), 'revoked on the server')
    const again = await client.request<{ user: { id: string } }>({ url: '/me' })
    t.equal(again.user.id, first.user.id, 'the same user, after a re-login')
    const second = client.skey()
    t.not(second, first.skey, 'with a new skey')
    t.equal(phone.state.logins, 2, 'one login call for the re-login')

    await client.logout()
    t.equal(phone.storage.has('mpa:skey'), false, 'logged out: forgotten')
    t.equal(await app.sessions.get(second!), null, 'and revoked on the server')
    t.same(phone.sent.map((s) => `${s.method} ${new URL(s.url).pathname}`), [
      `POST ${loginRoute}`, 'GET /me', 'POST /orders', 'GET /me', `POST ${loginRoute}`, 'GET /me', 'DELETE /auth/session'
    ])
  })
}

test('alipay, built, in a realm with only my: phoneNumber() posts what my.getPhoneNumber gave', async (t) => {
  const { baseUrl } = await server(t)
  const phone = fakeMy({ openId: '074a1d3d000000000000000phone', mobile: '13800138000' })
  const client = loadInMiniprogram(miniprogramBuild().files['index.js']!, { my: phone.api }).exports.createAuthClient({ baseUrl, platform: 'alipay' })
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

test('wechat: phoneNumber posts what the button gave, and nothing when it gave nothing', async (t) => {
  const { app, baseUrl } = await server(t)
  const carol: WechatSandboxUser = { openId: 'oClientCarol000000000000003', phone: { purePhoneNumber: '91234567', countryCode: '852' } }
  const { client, sent, state } = wechatClient(baseUrl, carol)
  const number = { phoneNumber: '+85291234567', purePhoneNumber: '91234567', countryCode: '852' }
  const { skey } = await client.login()
  await app.sessions.revoke(skey) // the session ended meanwhile

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
  const phone = fakeTt(dora)
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
  // Newer Douyin base libraries add a code for phonenumber.getPhoneNumber, which the route does not take.
  await t.rejects(client.phoneNumber({ code: 'a-phone-code' }), { code: 'MPA_CLIENT_PHONE_FAILED' }, 'a code alone: nothing the route takes')

  // A user not logged in to Douyin, with force: false: no dialog, only the device's anonymousCode.
  const guest = fakeTt({ anonymousOpenId: 'aClientGuestDevice000000001' })
  const anonymous = createAuthClient({ baseUrl, platform: 'douyin', api: guest.api, force: false })
  const { user } = await anonymous.login()
  t.same(guest.state.forces, [false])
  t.same(Object.keys(JSON.parse(guest.sent[0]!.body!)), ['anonymousCode'])
  t.not(user.id, reply.user.id, 'a session of the device, which this app allows')
})

test('qq: phoneNumber is a TypeError (no phone number route), before anything is sent', async (t) => {
  const phone = fakeQq(alice)
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
  t.throws(() => createAuthClient({ baseUrl: 'http://x', platform: 'line' as 'wechat', api: fakeWx(alice).api }), /^platform must be one of 'wechat', 'alipay', 'douyin', 'qq' \(got "line"\)$/)
  t.throws(() => createAuthClient({ baseUrl: 'http://x', platform: 'toString' as 'wechat', api: fakeWx(alice).api }), /platform must be one of/, 'not a property every object has')
  t.throws(() => createAuthClient({ baseUrl: '/relative', platform: 'wechat', api: fakeWx(alice).api }), /baseUrl must be an http\(s\) URL/)
  t.throws(() => createAuthClient({ baseUrl: 'https://user@api.example.com', platform: 'wechat', api: fakeWx(alice).api }), /baseUrl must be an http\(s\) URL/, 'no credentials in baseUrl')
  for (const [platform, global] of [['wechat', 'wx'], ['alipay', 'my'], ['douyin', 'tt'], ['qq', 'qq']] as const) {
    t.throws(() => createAuthClient({ baseUrl: 'http://x', platform }), new TypeError(`no ${global} object: run inside the mini-program or pass options.api`))
  }
})

test('no session_key, token, app secret or private key in any reply, no skey in any log line', async (t) => {
  world.assertNoSecrets(t)
})
