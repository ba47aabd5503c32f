import t, { test } from 'tap'
import type { FastifyRequest } from 'fastify'
import type { Identity, RevokeEvent, Session } from '../../index.js'
import { APP_ID, WechatWorld } from '../helpers/wechat.js'

// onLogin and onRevoke: awaited, told what happened, and isolated: a hook
// that throws is logged and changes neither the outcome nor the reply.

interface Calls {
  logins: Array<{ identity: Identity, session: Session, url: string }>
  revocations: Array<{ event: RevokeEvent, url: string | null }>
  fail: boolean
}

const world = await WechatWorld.create(t, 'hooks')

async function appWithHooks (extra: { maxPerUser?: number } = {}) {
  const calls: Calls = { logins: [], revocations: [], fail: false }
  const app = await world.build({
    keyPrefix: world.subPrefix('hooks'),
    session: { maxPerUser: extra.maxPerUser ?? 10 },
    onLogin: async (identity, session, request) => {
      calls.logins.push({ identity, session, url: request.url })
      if (calls.fail) throw new Error('the audit database is down')
    },
    onRevoke: async (event, request?: FastifyRequest) => {
      calls.revocations.push({ event, url: request?.url ?? null })
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
  t.equal(calls.logins.length, 1)
  const [{ identity, session, url }] = calls.logins as [Calls['logins'][number]]
  t.match(identity, { provider: 'wechat', appId: APP_ID, openId: 'o-hook-login' })
  t.equal(session.user.id, userOf('o-hook-login'))
  t.equal(url, '/auth/wechat/login', 'with the login request')
  t.equal((await app.sessions.list(session.user.id))[0]?.id, session.id, 'the session was in Redis when the hook ran')
  t.equal(typeof session.secrets.sessionKey, 'string', 'the hook may read the session\'s secrets (server side)')

  const replay = await world.post(app, '/auth/wechat/login', { code })
  t.same(replay.json, first.json, 'a retried code gets the first answer')
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
  t.equal((await world.call(app, 'DELETE', `/auth/sessions/${idB}`, undefined, c.skey)).statusCode, 204)
  t.equal((await world.call(app, 'DELETE', `/auth/sessions/${idB}`, undefined, c.skey)).statusCode, 404, 'already gone: nothing revoked, nothing said')
  const all = await world.call(app, 'DELETE', '/auth/sessions', undefined, c.skey)
  t.equal(all.json.revoked, 2)
  t.equal(calls.revocations.length, 3)
  t.same(calls.revocations[0], { event: { reason: 'logout', sessionIds: [idA], userId }, url: '/auth/session' })
  t.same(calls.revocations[1], { event: { reason: 'logout', sessionIds: [idB], userId }, url: `/auth/sessions/${idB}` })
  t.same(calls.revocations[2]!.event.reason, 'logout-all')
  t.same(calls.revocations[2]!.event.sessionIds.sort(), [idC, idD].sort())
  t.equal(calls.revocations[2]!.url, '/auth/sessions')
})

test('onRevoke: the per-user cap reports the sessions it evicted', async (t) => {
  const { app, calls } = await appWithHooks({ maxPerUser: 2 })
  const first = await world.login(app, 'o-hook-cap')
  const firstId = (await world.call(app, 'GET', '/auth/session', undefined, first.skey)).json.session.id
  await world.login(app, 'o-hook-cap')
  t.same(calls.revocations, [], 'within the cap: nothing')
  await world.login(app, 'o-hook-cap')
  t.same(calls.revocations, [{ event: { reason: 'cap', sessionIds: [firstId], userId: userOf('o-hook-cap') }, url: null }])
  t.equal((await world.call(app, 'GET', '/auth/session', undefined, first.skey)).statusCode, 401, 'the evicted session is gone')
})

test('onRevoke: what the app revokes through fastify.sessions is reported as admin', async (t) => {
  const { app, calls } = await appWithHooks()
  const identity = { provider: 'wechat' as const, appId: APP_ID, openId: 'o-hook-admin' }
  const one = await app.sessions.create(identity, { user: { id: 'admin-target' } })
  const two = await app.sessions.create(identity, { user: { id: 'admin-target' } })
  const three = await app.sessions.create(identity, { user: { id: 'admin-target' } })
  t.equal(await app.sessions.revoke(one.skey), true)
  t.equal(await app.sessions.revokeById('admin-target', two.session.id), true)
  t.equal(await app.sessions.revokeUser('admin-target'), 1)
  t.equal(await app.sessions.revokeUser('admin-target'), 0)
  t.same(await app.sessions.revokeUserSessions('nobody'), [])
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
  const failures = world.logs.lines.slice(logs).map((line) => JSON.parse(line)).filter((line) => line.hook !== undefined)
  t.same(failures.map(({ hook, level, err }) => ({ hook, level, message: err.message })), [
    { hook: 'onLogin', level: 50, message: 'the audit database is down' },
    { hook: 'onRevoke', level: 50, message: 'the audit database is down' }
  ])
})

test('hooks are awaited: the reply waits until the hook is done', async (t) => {
  const entered: Record<string, () => void> = {}
  const release: Record<string, () => void> = {}
  const inHook = (name: string) => new Promise<void>((resolve) => { entered[name] = resolve })
  const gates = { onLogin: new Promise<void>((resolve) => { release.onLogin = resolve }), onRevoke: new Promise<void>((resolve) => { release.onRevoke = resolve }) }
  const finished: string[] = []
  let sessionInRedis: boolean | null = null
  const app = await world.build({
    keyPrefix: world.subPrefix('hooks-awaited'),
    onLogin: async (_identity, session) => {
      sessionInRedis = (await app.sessions.list(session.user.id)).some(({ id }) => id === session.id)
      entered.onLogin!()
      await gates.onLogin
      finished.push('onLogin')
    },
    onRevoke: async () => {
      entered.onRevoke!()
      await gates.onRevoke
      finished.push('onRevoke')
    }
  })
  // Starts a request, waits until its hook runs, checks that no reply came while the hook is held, then lets the hook finish.
  async function held<T> (hook: 'onLogin' | 'onRevoke', request: () => Promise<T>): Promise<T> {
    const running = inHook(hook)
    let replied = false
    const pending = request().then((reply) => { replied = true; return reply })
    await running
    await new Promise((resolve) => setTimeout(resolve, 50))
    t.notOk(replied, `no reply while ${hook} runs`)
    release[hook]!()
    const reply = await pending
    t.ok(finished.includes(hook), `${hook} finished before the reply`)
    return reply
  }
  const login = await held('onLogin', () => world.login(app, 'o-hook-awaited'))
  t.equal(login.statusCode, 200)
  t.equal(sessionInRedis, true, 'onLogin ran once the session was in Redis')
  const logout = await held('onRevoke', () => world.call(app, 'DELETE', '/auth/session', undefined, login.skey))
  t.equal(logout.statusCode, 204)
})

test('isolated whatever they throw: synchronously, on the cap and admin paths, an error that cannot be logged', async (t) => {
  const unloggable = Object.defineProperty(new Error('x'), 'message', { get () { throw new Error('no message for you') } })
  let thrown: unknown = new Error('sync failure')
  const app = await world.build({
    keyPrefix: world.subPrefix('hooks-throw'),
    session: { maxPerUser: 1 },
    onLogin: () => { throw thrown },
    onRevoke: () => { throw thrown }
  })
  const logs = world.logs.lines.length
  const first = await world.login(app, 'o-hook-throws')
  t.equal(first.statusCode, 200, 'a hook that throws synchronously: the login stands')
  thrown = unloggable
  const second = await world.login(app, 'o-hook-throws')
  t.equal(second.statusCode, 200, 'the cap evicted the first session; its failing onRevoke and onLogin changed nothing')
  t.equal((await world.call(app, 'GET', '/auth/session', undefined, first.skey)).statusCode, 401, 'the cap did evict')
  thrown = null
  t.equal(await app.sessions.revoke(second.skey), true, 'an admin revocation stands though onRevoke threw null')
  t.equal((await world.call(app, 'GET', '/auth/session', undefined, second.skey)).statusCode, 401)
  const failures = world.logs.lines.slice(logs).map((line) => JSON.parse(line)).filter((line) => line.hook !== undefined)
  t.same(failures.map(({ hook }) => hook), ['onLogin', 'onRevoke', 'onLogin', 'onRevoke'], 'every failure logged, one line each')
  t.ok(failures.slice(1, 3).every(({ msg }) => /cannot be logged/.test(msg)), 'what could not be logged is said so')
})

test('hooks that are not functions fail registration, naming the option', async (t) => {
  await t.rejects(world.build({ onLogin: 'audit' as never }), /^onLogin must be a function/)
  await t.rejects(world.build({ onRevoke: {} as never }), /^onRevoke must be a function/)
})

test('no secret in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})
