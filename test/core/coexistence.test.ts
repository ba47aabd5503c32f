import t, { test } from 'tap'
import fastifyCookie from '@fastify/cookie'
import fastifyJwt from '@fastify/jwt'
import fastifySession from '@fastify/session'
import { buildApp } from '../helpers/app.js'
import { WechatWorld } from '../helpers/wechat.js'

// Beside @fastify/jwt (request.user) and @fastify/session (request.session),
// with our decorators renamed. The app declares the names it chose, so they
// are typed; this file is compiled on its own (test/types/coexistence), as
// the declaration renames them for the whole program.
declare module '../../index.js' {
  interface FastifyMiniprogramAuth {
    decorators: { user: 'mpaUser', session: 'mpaSession', authenticate: 'mpaAuthenticate' }
  }
}
declare module 'fastify' {
  interface Session { visits?: number }
}

const DECORATORS = { user: 'mpaUser', session: 'mpaSession', authenticate: 'mpaAuthenticate' }
const JWT_SECRET = 'jwt-secret-of-the-coexistence-test-0123456789'
const SESSION_SECRET = 'cookie-session-secret-of-the-coexistence-test-0123456789'

const world = await WechatWorld.create(t, 'coexistence')

test('without renaming, @fastify/jwt and our plugin both want request.user: Fastify says so at boot', async (t) => {
  const failed = world.build({ before: async (app) => { await app.register(fastifyJwt, { secret: JWT_SECRET }) } })
  await t.rejects(failed, { code: 'FST_ERR_DEC_ALREADY_PRESENT', message: /'user'/ })
})

test('beside @fastify/jwt: each authenticates its own routes, and refuses the other\'s credential', async (t) => {
  const app = await world.build({
    decorators: DECORATORS,
    me: false,
    before: async (app) => { await app.register(fastifyJwt, { secret: JWT_SECRET }) }
  }, (app) => {
    app.get('/jwt/me', { onRequest: (request) => request.jwtVerify() }, async (request) => ({ user: request.user }))
    app.get('/mpa/me', { preHandler: app.mpaAuthenticate }, async (request) => ({
      user: request.mpaUser,
      provider: request.mpaSession.provider,
      jwtUser: request.user ?? null
    }))
  })
  const token = app.jwt.sign({ sub: 'jwt-user' })
  const { skey } = await world.login(app, 'o-coexist-jwt')
  t.ok(skey, 'logged in')

  const jwtMe = await app.inject({ url: '/jwt/me', headers: { authorization: `Bearer ${token}` } })
  t.equal(jwtMe.statusCode, 200)
  t.equal(jwtMe.json().user.sub, 'jwt-user', '@fastify/jwt sets request.user')
  t.equal((await app.inject({ url: '/jwt/me', headers: { 'x-skey': skey } })).statusCode, 401, 'an skey is no JWT')

  const mpaMe = await world.call(app, 'GET', '/mpa/me', undefined, skey)
  t.equal(mpaMe.statusCode, 200)
  t.same(mpaMe.json, { user: { id: `wechat:${world.app().appId}:o-coexist-jwt` }, provider: 'wechat', jwtUser: null }, 'ours sets request.mpaUser and request.mpaSession, not request.user')
  const jwtAsSkey = await app.inject({ url: '/mpa/me', headers: { authorization: `Bearer ${token}` } })
  t.equal(jwtAsSkey.statusCode, 401)
  t.equal(jwtAsSkey.json().code, 'MPA_SKEY_MALFORMED', 'a JWT is no skey')

  // Our own routes read the session under its new name.
  const current = await world.call(app, 'GET', '/auth/session', undefined, skey)
  t.equal(current.statusCode, 200)
  t.equal(current.json.session.provider, 'wechat')
  const info = world.sandbox.userInfo('o-coexist-jwt')
  const userinfo = await world.post(app, '/auth/wechat/userinfo', { encryptedData: info.encryptedData, iv: info.iv, rawData: info.rawData, signature: info.signature }, skey)
  t.equal(userinfo.statusCode, 200, '/wechat/userinfo finds the session_key through the renamed session')
  t.equal(userinfo.json.openId, 'o-coexist-jwt')
  const devices = await world.call(app, 'GET', '/auth/sessions', undefined, skey)
  t.equal(devices.json.sessions.filter((session: { current?: boolean }) => session.current).length, 1, 'the device list marks this one')
  t.equal((await world.call(app, 'DELETE', '/auth/session', undefined, skey)).statusCode, 204)
  t.equal((await world.call(app, 'GET', '/mpa/me', undefined, skey)).statusCode, 401, 'logged out')
  t.equal((await app.inject({ url: '/jwt/me', headers: { authorization: `Bearer ${token}` } })).statusCode, 200, 'the JWT is untouched')
})

test('beside @fastify/session and @fastify/cookie: its cookie session and our skey session live side by side', async (t) => {
  const app = await world.build({
    decorators: DECORATORS,
    me: false,
    before: async (app) => {
      await app.register(fastifyCookie)
      await app.register(fastifySession, { secret: SESSION_SECRET, cookie: { secure: false } })
    }
  }, (app) => {
    app.get('/visits', async (request) => {
      const visits = Number(request.session.get('visits') ?? 0) + 1
      request.session.set('visits', visits)
      return { visits }
    })
    app.get('/mpa/me', { preHandler: app.mpaAuthenticate }, async (request) => ({ user: request.mpaUser, sessionId: request.mpaSession.id }))
  })
  const first = await app.inject({ url: '/visits' })
  const cookie = first.headers['set-cookie']
  t.ok(cookie, '@fastify/session set its cookie')
  const second = await app.inject({ url: '/visits', headers: { cookie: String(cookie).split(';')[0] } })
  t.equal(second.json().visits, 2, '@fastify/session keeps request.session')

  const { skey } = await world.login(app, 'o-coexist-session')
  const me = await world.call(app, 'GET', '/mpa/me', undefined, skey)
  t.equal(me.statusCode, 200)
  t.equal(me.json.user.id, `wechat:${world.app().appId}:o-coexist-session`)
  const current = await world.call(app, 'GET', '/auth/session', undefined, skey)
  t.equal(current.json.session.id, me.json.sessionId, 'our routes answer our session, not the cookie session')
  t.equal((await world.call(app, 'DELETE', '/auth/sessions', undefined, skey)).json.revoked, 1)
})

test('decorator names are checked at register time, naming the option', async (t) => {
  const fails = (decorators: unknown) => buildApp(world.redis, { keyPrefix: world.prefix, decorators: decorators as never, me: false })
  await t.rejects(fails({ user: 'me', session: 'me' }), /^decorators\.user and decorators\.session must differ/)
  await t.rejects(fails({ usr: 'mpaUser' }), /^unknown option decorators\.usr: decorators takes user, session, authenticate/)
  await t.rejects(fails({ authenticate: 'mpa-authenticate' }), /^decorators\.authenticate must be a property name/)
  await t.rejects(fails('mpa'), /^decorators must be/)
})

test('names Fastify\'s request or instance already has, or every object has, are refused at register: the first request would crash or merge', async (t) => {
  const fails = (decorators: unknown) => buildApp(world.redis, { keyPrefix: world.prefix, decorators: decorators as never, me: false })
  for (const [decorators, message] of [
    [{ user: '__proto__' }, /^decorators\.user '__proto__' is taken/],
    [{ user: 'headers' }, /^decorators\.user 'headers' is taken: every Fastify request/],
    [{ session: 'routeOptions' }, /^decorators\.session 'routeOptions' is taken/],
    [{ session: 'constructor' }, /^decorators\.session 'constructor' is taken/],
    [{ user: 'toString' }, /^decorators\.user 'toString' is taken/],
    [{ authenticate: 'register' }, /^decorators\.authenticate 'register' is taken: the Fastify instance already has it/],
    [{ authenticate: 'hasOwnProperty' }, /^decorators\.authenticate 'hasOwnProperty' is taken/]
  ] as const) await t.rejects(fails(decorators), message, JSON.stringify(decorators))
  // A name another plugin took first: its own decorator, refused by us before Fastify would.
  const jwtFirst = buildApp(world.redis, {
    keyPrefix: world.prefix,
    me: false,
    decorators: { user: 'mpaUser', session: 'mpaSession', authenticate: 'jwtVerify' },
    before: async (app) => { app.decorate('jwtVerify', () => {}) }
  })
  await t.rejects(jwtFirst, /^decorators\.authenticate 'jwtVerify' is taken/)
})

test('no secret in any reply or log line', async (t) => {
  world.assertNoSecrets(t, [JWT_SECRET, SESSION_SECRET])
})
