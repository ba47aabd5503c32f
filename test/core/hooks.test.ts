import t, { test } from 'tap'
import { EventEmitter, once } from 'node:events'
import type { FastifyRequest } from 'fastify'
import type { Identity, RevokeEvent, Session } from '../../index.js'
import { APP_ID, WechatWorld } from '../helpers/wechat.js'

// onLogin and onRevoke: told what happened once it is done, beside the reply
// (never holding it, nor a login's code claim), isolated (a hook that throws
// is logged and changes nothing) and bounded (one that does not settle is
// let go after hookTimeout).

/** What the hooks were called with, and a way to wait for the next calls. */
class Calls extends EventEmitter {
  readonly logins: Array<{ identity: Identity, session: Session, url: string }> = []
  readonly revocations: Array<{ event: RevokeEvent, url: string | null }> = []
  fail = false

  /** Resolves once `kind` has been called `count` times in all. */
  async reach (kind: 'logins' | 'revocations', count: number): Promise<void> {
    while (this[kind].length < count) await once(this, kind)
  }
}

const world = await WechatWorld.create(t, 'hooks')

async function appWithHooks (extra: { maxPerUser?: number } = {}) {
  const calls = new Calls()
  const app = await world.build({
    keyPrefix: world.subPrefix('hooks'),
    session: { maxPerUser: extra.maxPerUser ?? 10 },
    onLogin: async (identity, session, request) => {
      calls.logins.push({ identity, session, url: request.url })
      calls.emit('logins')
      if (calls.fail) throw new Error('the audit database is down')
    },
    onRevoke: async (event, request?: FastifyRequest) => {
      calls.revocations.push({ event, url: request?.url ?? null })
      calls.emit('revocations')
      if (calls.fail) throw new Error('the audit database is down')
    }
  })
  return { app, calls }
}

const userOf = (openId: string) => `wechat:${APP_ID}:${openId}`

test('onLogin: once per login, after the session exists; not for a retried code', async (t) => {
  const { app, calls } = await appWithHooks()
  const code = world.sandbox.issueCode({ openId: 'o-hook-login' })
  const first = await world.post(app, '/auth/wechat/login', { code })
  t.equal(first.statusCode, 200)
  await calls.reach('logins', 1)
  const [{ identity, session, url }] = calls.logins as [Calls['logins'][number]]
  t.match(identity, { provider: 'wechat', appId: APP_ID, openId: 'o-hook-login' })
  t.equal(session.user.id, userOf('o-hook-login'))
  t.equal(url, '/auth/wechat/login', 'with the login request')
  t.equal((await app.sessions.list(session.user.id))[0]?.id, session.id, 'the session was in Redis when the hook ran')
  t.equal(typeof session.secrets.sessionKey, 'string', 'the hook may read the session\'s secrets (server side)')

  const replay = await world.post(app, '/auth/wechat/login', { code })
  t.same(replay.json, first.json, 'a retried code gets the first answer')
  await app.close() // waits for hooks in flight
  t.equal(calls.logins.length, 1, 'and no second onLogin')
})

test('onRevoke: logout, logout of one device, logout-all, each with its request', async (t) => {
  const { app, calls } = await appWithHooks()
  const a = await world.login(app, 'o-hook-logout')
  const b = await world.login(app, 'o-hook-logout')
  const c = await world.login(app, 'o-hook-logout')
  const d = await world.login(app, 'o-hook-logout')
  const idOf = async (skey: string) => (await world.call(app, 'GET', '/auth/session', undefined, skey)).json.session.id as string
  const [idA, idB, idC, idD] = [await idOf(a.skey), await idOf(b.skey), await idOf(c.skey), await idOf(d.skey)]
  const userId = userOf('o-hook-logout')

  t.equal((await world.call(app, 'DELETE', '/auth/session', undefined, a.skey)).statusCode, 204)
  await calls.reach('revocations', 1)
  t.equal((await world.call(app, 'DELETE', `/auth/sessions/${idB}`, undefined, c.skey)).statusCode, 204)
  await calls.reach('revocations', 2)
  t.equal((await world.call(app, 'DELETE', `/auth/sessions/${idB}`, undefined, c.skey)).statusCode, 404, 'already gone: nothing revoked, nothing said')
  const all = await world.call(app, 'DELETE', '/auth/sessions', undefined, c.skey)
  t.equal(all.json.revoked, 2)
  await app.close()
  t.equal(calls.revocations.length, 3)
  t.same(calls.revocations[0], { event: { reason: 'logout', sessionIds: [idA], userId }, url: '/auth/session' })
  t.same(calls.revocations[1], { event: { reason: 'logout', sessionIds: [idB], userId }, url: `/auth/sessions/${idB}` })
  t.same(calls.revocations[2]!.event.reason, 'logout-all')
  t.same(calls.revocations[2]!.event.sessionIds.sort(), [idC, idD].sort())
  t.equal(calls.revocations[2]!.url, '/auth/sessions')
})

test('onRevoke: the per-user cap reports the sessions it replaced', async (t) => {
  const { app, calls } = await appWithHooks({ maxPerUser: 2 })
  const first = await world.login(app, 'o-hook-cap')
  const firstId = (await world.call(app, 'GET', '/auth/session', undefined, first.skey)).json.session.id
  await world.login(app, 'o-hook-cap')
  await world.login(app, 'o-hook-cap')
  await calls.reach('revocations', 1)
  t.same(calls.revocations, [{ event: { reason: 'cap', sessionIds: [firstId], userId: userOf('o-hook-cap') }, url: null }], 'the third login replaced the first, and only that')
  t.equal((await world.call(app, 'GET', '/auth/session', undefined, first.skey)).json.code, 'MPA_SESSION_REPLACED', 'the replaced session says so')
})

test('onRevoke: what the app revokes through fastify.sessions is reported as admin', async (t) => {
  const { app, calls } = await appWithHooks()
  const identity = { provider: 'wechat' as const, appId: APP_ID, openId: 'o-hook-admin' }
  const one = await app.sessions.create(identity, { user: { id: 'admin-target' } })
  const two = await app.sessions.create(identity, { user: { id: 'admin-target' } })
  const three = await app.sessions.create(identity, { user: { id: 'admin-target' } })
  t.same(await app.sessions.revoke({ skey: one.skey }), [one.session.id])
  t.equal(await app.sessions.revokeById('admin-target', two.session.id), true, 'the deprecated forms still work')
  t.equal(await app.sessions.revokeUser('admin-target'), 1)
  t.equal(await app.sessions.revokeUser('admin-target'), 0)
  t.same(await app.sessions.revokeUserSessions('nobody'), [])
  await app.close()
  t.same(calls.revocations.map(({ event }) => event), [
    { reason: 'admin', sessionIds: [one.session.id] },
    { reason: 'admin', sessionIds: [two.session.id], userId: 'admin-target' },
    { reason: 'admin', sessionIds: [three.session.id], userId: 'admin-target' }
  ], 'one event per revocation that revoked something')
})

test('a hook that throws is logged; the login and the logout stand, the replies are unchanged', async (t) => {
  const { app, calls } = await appWithHooks()
  calls.fail = true
  const logs = world.logs.lines.length
  const login = await world.login(app, 'o-hook-fails')
  t.equal(login.statusCode, 200)
  t.same(Object.keys(login.json).sort(), ['expiresAt', 'skey', 'user'])
  t.equal((await world.call(app, 'GET', '/auth/session', undefined, login.skey)).statusCode, 200, 'the session works')
  const logout = await world.call(app, 'DELETE', '/auth/session', undefined, login.skey)
  t.equal(logout.statusCode, 204)
  t.equal(logout.body, '')
  t.equal((await world.call(app, 'GET', '/auth/session', undefined, login.skey)).statusCode, 401, 'the logout happened')
  await app.close()
  const failures = world.logs.lines.slice(logs).map((line) => JSON.parse(line)).filter((line) => line.hook !== undefined)
  t.same(failures.map(({ hook, level, err }) => ({ hook, level, message: err.message })), [
    { hook: 'onLogin', level: 50, message: 'the audit database is down' },
    { hook: 'onRevoke', level: 50, message: 'the audit database is down' }
  ])
})

test('hooks never hold a reply: the reply goes while the hook still runs, and the hook saw the work done', async (t) => {
  const entered: Record<string, () => void> = {}
  const release: Record<string, () => void> = {}
  const inHook = (name: string) => new Promise<void>((resolve) => { entered[name] = resolve })
  const gates = { onLogin: new Promise<void>((resolve) => { release.onLogin = resolve }), onRevoke: new Promise<void>((resolve) => { release.onRevoke = resolve }) }
  let sessionInRedis: boolean | null = null
  let revokedInRedis: boolean | null = null
  const app = await world.build({
    keyPrefix: world.subPrefix('hooks-beside'),
    onLogin: async (_identity, session) => {
      sessionInRedis = (await app.sessions.list(session.user.id)).some(({ id }) => id === session.id)
      entered.onLogin!()
      await gates.onLogin
    },
    onRevoke: async (event) => {
      revokedInRedis = (await app.sessions.list(event.userId!)).every(({ id }) => !event.sessionIds.includes(id))
      entered.onRevoke!()
      await gates.onRevoke
    }
  })
  const loginHook = inHook('onLogin')
  const login = await world.login(app, 'o-hook-beside')
  t.equal(login.statusCode, 200, 'the login answered while onLogin is held')
  await loginHook
  t.equal(sessionInRedis, true, 'onLogin ran once the session was in Redis')
  const revokeHook = inHook('onRevoke')
  const logout = await world.call(app, 'DELETE', '/auth/session', undefined, login.skey)
  t.equal(logout.statusCode, 204, 'the logout answered while onRevoke is held')
  await revokeHook
  t.equal(revokedInRedis, true, 'onRevoke ran once the revocation was done')
  release.onLogin!()
  release.onRevoke!()
})

test('a hook that never settles: the login still answers at once, its code replays, no session is left behind; it is let go after hookTimeout', async (t) => {
  const app = await world.build({
    keyPrefix: world.subPrefix('hooks-hung'),
    hookTimeout: '200ms',
    session: { maxPerUser: 1 },
    onRevoke: () => new Promise<void>(() => {}),
    onLogin: () => new Promise<void>(() => {})
  })
  const logs = world.logs.lines.length
  const first = await world.login(app, 'o-hook-hung')
  const code = world.sandbox.issueCode({ openId: 'o-hook-hung' })
  const started = Date.now()
  const second = await world.post(app, '/auth/wechat/login', { code })
  t.equal(second.statusCode, 200, 'a login whose cap eviction calls a hung onRevoke answers')
  t.ok(Date.now() - started < 2000, 'without waiting for it')
  t.same((await world.post(app, '/auth/wechat/login', { code })).json, second.json, 'its code replays: the claim was settled')
  t.equal((await world.call(app, 'GET', '/auth/session', undefined, first.skey)).json.code, 'MPA_SESSION_REPLACED', 'the first device was replaced')
  const secondId = (await world.call(app, 'GET', '/auth/session', undefined, second.json.skey)).json.session.id
  t.same((await app.sessions.list(second.json.user.id)).map(({ id }) => id), [secondId], 'one session in the device slot: no orphan')
  const closing = Date.now()
  await app.close()
  t.ok(Date.now() - closing < 2000, 'closing waits for the hung hooks no longer than hookTimeout')
  const letGo = world.logs.lines.slice(logs).map((line) => JSON.parse(line)).filter((line) => line.hook !== undefined && line.level === 40)
  t.same(letGo.map(({ hook }) => hook).sort(), ['onLogin', 'onLogin', 'onRevoke'], 'each hung hook logged once, at warn, when let go')
})

test('isolated whatever they throw: synchronously, on the cap and admin paths, an error that cannot be logged', async (t) => {
  const unloggable = Object.defineProperty(new Error('x'), 'message', { get () { throw new Error('no message for you') } })
  // What each hook call throws, in the order the calls happen.
  const thrown: unknown[] = [new Error('sync failure'), unloggable, unloggable, null]
  const app = await world.build({
    keyPrefix: world.subPrefix('hooks-throw'),
    session: { maxPerUser: 1 },
    onLogin: () => { throw thrown.shift() },
    onRevoke: () => { throw thrown.shift() }
  })
  const logs = world.logs.lines.length
  const first = await world.login(app, 'o-hook-throws')
  t.equal(first.statusCode, 200, 'a hook that throws synchronously: the login stands')
  const second = await world.login(app, 'o-hook-throws')
  t.equal(second.statusCode, 200, 'the cap replaced the first session; its failing onRevoke and onLogin changed nothing')
  t.equal((await world.call(app, 'GET', '/auth/session', undefined, first.skey)).statusCode, 401, 'the cap did replace it')
  const secondId = (await world.call(app, 'GET', '/auth/session', undefined, second.skey)).json.session.id
  t.same(await app.sessions.revoke({ skey: second.skey }), [secondId], 'an admin revocation stands though onRevoke throws null')
  t.equal((await world.call(app, 'GET', '/auth/session', undefined, second.skey)).statusCode, 401)
  await app.close()
  const failures = world.logs.lines.slice(logs).map((line) => JSON.parse(line)).filter((line) => line.hook !== undefined)
  t.same(failures.map(({ hook }) => hook), ['onLogin', 'onRevoke', 'onLogin', 'onRevoke'], 'every failure logged, one line each')
  t.ok(failures.slice(1, 3).every(({ msg }) => /cannot be logged/.test(msg)), 'what could not be logged is said so')
})

test('hooks that are not functions, and a hookTimeout that is not a duration, fail registration, naming the option', async (t) => {
  await t.rejects(world.build({ onLogin: 'audit' as never }), /^onLogin must be a function/)
  await t.rejects(world.build({ onRevoke: {} as never }), /^onRevoke must be a function/)
  await t.rejects(world.build({ hookTimeout: 'soon' as never }), /^hookTimeout must be/)
})

test('no secret in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})
