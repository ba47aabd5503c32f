import t, { test } from 'tap'
import type { Identity } from '../../index.js'
import wechatPlugin from '../../plugins/wechat.js'
import wechatRoutes from '../../routes/wechat.js'
import { buildApp } from '../helpers/app.js'
import { socketWrites } from '../helpers/socket-writes.js'
import { APP_ID, OTHER_APP_ID, WechatWorld } from '../helpers/wechat.js'

const world = await WechatWorld.create(t, 'wechat-login')
const { sandbox } = world
const app = await world.build()

test('full path: wx.login → POST login → skey → authenticated requests', async (t) => {
  const login = await world.login(app, 'o-alice')
  t.equal(login.statusCode, 200)
  t.same(Object.keys(login.json).sort(), ['expiresAt', 'skey', 'user'])
  t.match(login.skey, /^[A-Za-z0-9_-]{43}$/)
  t.same(login.json.user, { id: `wechat:${APP_ID}:o-alice` })
  const me = await world.call(app, 'GET', '/me', undefined, login.skey)
  t.equal(me.statusCode, 200)
  t.same(me.json.user, login.json.user)
  t.match(me.json.session, { provider: 'wechat', appId: APP_ID, openId: 'o-alice' })
  const session = await world.call(app, 'GET', '/auth/session', undefined, login.skey)
  t.equal(session.json.session.openId, 'o-alice')
  const stored = await app.sessions.get(login.skey)
  t.equal(stored?.secrets.sessionKey, sandbox.sessionKeyOf('o-alice'), 'the session holds the session_key, server side')
  t.equal(await app.wechat.checkSessionKey('o-alice', stored!.secrets.sessionKey!), true, 'and WeChat agrees it is current')
})

test('a login is three round trips to Redis, each one socket write', async (t) => {
  const writes = await socketWrites(t, world.redis)
  const login = await world.login(app, 'o-round-trips')
  t.equal(login.statusCode, 200)
  t.same(writes, [
    ['evalsha'], // the login rate limit
    ['evalsha'], // the code's claim
    // after jscode2session: the openid's latest session_key, the index, the record, the claim settled
    ['set', 'evalsha', 'evalsha', 'set']
  ])
})

test('unionid present and absent', async (t) => {
  const identities: Identity[] = []
  const recording = await world.build({ resolveUser: (identity) => { identities.push(identity); return { id: `u-${identity.openId}` } } })
  const bound = await world.login(recording, 'o-bound', { unionId: 'union-1' })
  const unbound = await world.login(recording, 'o-unbound')
  t.same(identities, [
    { provider: 'wechat', surface: 'miniprogram', appId: APP_ID, openId: 'o-bound', unionId: 'union-1' },
    { provider: 'wechat', surface: 'miniprogram', appId: APP_ID, openId: 'o-unbound' }
  ])
  t.same(bound.json.user, { id: 'u-o-bound' })
  t.equal((await world.call(recording, 'GET', '/auth/session', undefined, bound.skey)).json.session.unionId, 'union-1')
  t.notOk('unionId' in (await world.call(recording, 'GET', '/auth/session', undefined, unbound.skey)).json.session)
})

test('every jscode2session errcode maps to its documented error', async (t) => {
  const table: Array<[number, number, string]> = [
    [40029, 401, 'MPA_CODE_INVALID'],
    [40163, 401, 'MPA_CODE_INVALID'],
    [45011, 429, 'MPA_UPSTREAM_RATE_LIMITED'],
    [40226, 403, 'MPA_CODE_BLOCKED'],
    [40125, 500, 'MPA_MISCONFIGURED'],
    [40013, 500, 'MPA_MISCONFIGURED'],
    [40164, 500, 'MPA_MISCONFIGURED'],
    [61234, 502, 'MPA_UPSTREAM_ERROR']
  ]
  for (const [errcode, statusCode, code] of table) {
    sandbox.fail('jscode2session', { errcode })
    const reply = await world.login(app, 'o-errcode')
    t.equal(reply.statusCode, statusCode, `errcode ${errcode} → ${statusCode}`)
    t.equal(reply.json.code, code, `errcode ${errcode} → ${code}`)
    t.match(reply.json.message, String(errcode), 'the message names the errcode')
  }
  const misconfigured = world.logs.lines.map((line) => JSON.parse(line)).filter((line) => line.level === 50 && line.errcode === 40125)
  t.equal(misconfigured.length, 1, 'a misconfiguration is logged at error level')
  t.match(misconfigured[0].msg, /check the wechat appId\/appSecret/)
})

test('real upstream refusals: a used code, a wrong secret, an unknown appid', async (t) => {
  const code = sandbox.issueCode({ openId: 'o-reuse' })
  t.equal((await world.post(app, '/auth/wechat/login', { code })).statusCode, 200)
  // Past the replay window, the code is simply used (another app instance with no shared Redis, say).
  const elsewhere = await world.build({ keyPrefix: `${world.prefix}elsewhere:` })
  t.match((await world.post(elsewhere, '/auth/wechat/login', { code })).json, { statusCode: 401, code: 'MPA_CODE_INVALID', message: /40163/ })

  const wrongSecret = await world.build({ wechat: world.app(APP_ID, { appSecret: 'a-secret-wechat-does-not-know' }) })
  t.match((await world.login(wrongSecret, 'o-x')).json, { statusCode: 500, code: 'MPA_MISCONFIGURED', message: /40125/ })
  t.notMatch(world.logs.text, 'a-secret-wechat-does-not-know')
  const unknownApp = await world.build({ wechat: world.app('wx00000000000000ff') })
  t.match((await world.login(unknownApp, 'o-x', { appId: APP_ID })).json, { statusCode: 400, code: 'MPA_UNKNOWN_APP' })
  sandbox.addApp('wx00000000000000ff', 'the-real-secret')
  t.match((await world.login(unknownApp, 'o-x', { appId: 'wx00000000000000ff' })).json, { statusCode: 500, code: 'MPA_MISCONFIGURED' })
})

test('system busy (-1): one retry, never two', async (t) => {
  const before = sandbox.calls('jscode2session')
  sandbox.fail('jscode2session', { errcode: -1 })
  t.equal((await world.login(app, 'o-busy')).statusCode, 200, 'the retry succeeds')
  t.equal(sandbox.calls('jscode2session') - before, 2)
  sandbox.fail('jscode2session', { errcode: -1, times: 2 })
  t.match((await world.login(app, 'o-busy')).json, { statusCode: 502, code: 'MPA_UPSTREAM_ERROR', message: /errcode -1/ })
  t.equal(sandbox.calls('jscode2session') - before, 4, 'exactly one retry')
})

test('timeout → 504, within the configured timeout; the code is spent all the same', async (t) => {
  const impatient = await world.build({ wechat: world.app(APP_ID, { timeout: '1s' }) })
  sandbox.fail('jscode2session', { delayMs: 2500 })
  const code = sandbox.issueCode({ openId: 'o-slow' })
  const started = Date.now()
  const reply = await world.post(impatient, '/auth/wechat/login', { code })
  t.match(reply.json, { statusCode: 504, code: 'MPA_UPSTREAM_TIMEOUT' })
  t.ok(Date.now() - started < 2000, 'did not wait for the slow answer')
  // WeChat did the exchange; only its answer was lost. A retry is refused,
  // as it would be in production: the client gets a new code.
  t.match((await world.post(impatient, '/auth/wechat/login', { code })).json, { statusCode: 401, code: 'MPA_CODE_INVALID', message: /40163/ })
  sandbox.fail('jscode2session', { delayMs: 100 })
  t.equal((await world.login(impatient, 'o-slow')).statusCode, 200, 'an answer within the timeout is fine')
})

test('a malformed body and HTTP 5xx → 502; text/plain JSON is accepted', async (t) => {
  sandbox.fail('jscode2session', { malformed: true })
  t.match((await world.login(app, 'o-m')).json, { statusCode: 502, code: 'MPA_UPSTREAM_ERROR', message: /not a JSON object/ })
  sandbox.fail('jscode2session', { httpStatus: 503 })
  t.match((await world.login(app, 'o-m')).json, { statusCode: 502, code: 'MPA_UPSTREAM_ERROR', message: /HTTP 503/ })
  sandbox.fail('jscode2session', { httpStatus: 500 })
  t.match((await world.login(app, 'o-m')).json, { statusCode: 502, message: /HTTP 500/ })
  sandbox.fail('jscode2session', { textPlain: true })
  t.equal((await world.login(app, 'o-m')).statusCode, 200)
  sandbox.fail('jscode2session', { textPlain: true, errcode: 40029 })
  t.equal((await world.login(app, 'o-m')).json.code, 'MPA_CODE_INVALID', 'an errcode in a text/plain body is still recognised')
  const unreachable = await world.build({ wechat: world.app(APP_ID, { baseUrl: 'http://127.0.0.1:9' }) })
  t.match((await world.login(unreachable, 'o-m')).json, { statusCode: 502, code: 'MPA_UPSTREAM_ERROR', message: /ECONNREFUSED/ })
})

test('several mini-programs: the body\'s appId picks one, the first is the default', async (t) => {
  const multi = await world.build({ wechat: [world.app(APP_ID), world.app(OTHER_APP_ID)] })
  const other = await world.login(multi, 'o-multi', { appId: OTHER_APP_ID })
  t.equal(other.statusCode, 200)
  t.same(other.json.user, { id: `wechat:${OTHER_APP_ID}:o-multi` })
  t.equal((await multi.sessions.get(other.skey))?.appId, OTHER_APP_ID)
  const first = await world.login(multi, 'o-multi')
  t.same(first.json.user, { id: `wechat:${APP_ID}:o-multi` }, 'no appId: the first app')

  const codeForFirst = sandbox.issueCode({ openId: 'o-multi' }, APP_ID)
  t.equal((await world.post(multi, '/auth/wechat/login', { code: codeForFirst, appId: OTHER_APP_ID })).json.code, 'MPA_CODE_INVALID', 'a code is bound to its app')
  t.match((await world.post(multi, '/auth/wechat/login', { code: 'c', appId: 'wx-not-here' })).json, { statusCode: 400, code: 'MPA_UNKNOWN_APP', message: /wx-not-here/ })
  t.same(multi.wechat.appIds, [APP_ID, OTHER_APP_ID])
})

test('a retried code gets the same answer with one upstream call, also concurrently on two instances', async (t) => {
  const before = sandbox.calls('jscode2session')
  const code = sandbox.issueCode({ openId: 'o-retry' })
  const first = await world.post(app, '/auth/wechat/login', { code })
  const again = await world.post(app, '/auth/wechat/login', { code })
  t.equal(again.statusCode, 200)
  t.same(again.json, first.json, 'the same skey, not a 401')
  t.equal(sandbox.calls('jscode2session') - before, 1)

  const second = await world.build()
  const concurrent = sandbox.issueCode({ openId: 'o-concurrent' })
  sandbox.fail('jscode2session', { delayMs: 200 })
  const [a, b] = await Promise.all([
    world.post(app, '/auth/wechat/login', { code: concurrent }),
    world.post(second, '/auth/wechat/login', { code: concurrent })
  ])
  t.equal(a.statusCode, 200)
  t.equal(b.statusCode, 200)
  t.equal(a.json.skey, b.json.skey)
  t.equal(sandbox.calls('jscode2session') - before, 2, 'one upstream call for the two posts')
  t.equal((await world.call(second, 'GET', '/me', undefined, a.json.skey)).statusCode, 200)

  // A failed exchange leaves nothing behind: the client may retry after a 5xx.
  const flaky = sandbox.issueCode({ openId: 'o-flaky' })
  sandbox.fail('jscode2session', { httpStatus: 502 })
  t.equal((await world.post(app, '/auth/wechat/login', { code: flaky })).statusCode, 502)
  t.equal((await world.post(second, '/auth/wechat/login', { code: flaky })).statusCode, 200)
})

test('bodies are validated', async (t) => {
  for (const body of [{}, { code: '' }, { code: 'x'.repeat(129) }, { code: 'c', appId: 'x'.repeat(65) }]) {
    t.equal((await world.post(app, '/auth/wechat/login', body)).statusCode, 400, JSON.stringify(body).slice(0, 40))
  }
})

test('options are checked at register time, naming the bad option and never echoing a secret', async (t) => {
  // The umbrella without its wechat option, then the WeChat plugin with the apps
  // under test: buildApp closes an app that fails to get ready. No log
  // capture: a refused secret must not reach the file's leak check.
  const register = (apps: unknown) => buildApp(world.redis, { keyPrefix: world.prefix }, (app) => {
    app.register(wechatPlugin, { apps } as never)
  })
  const good = world.app()
  await t.rejects(register(undefined), { name: 'TypeError', message: /^wechat must be an object/ })
  await t.rejects(register([]), { name: 'TypeError', message: /non-empty array/ })
  await t.rejects(register([good, 'x']), { name: 'TypeError', message: /^wechat\[1\] must be an object/ })
  await t.rejects(register({ ...good, appId: 'has space' }), { name: 'TypeError', message: /^wechat\.appId must be/ })
  await t.rejects(register([good, { ...good }]), { name: 'TypeError', message: /^wechat\[1\]\.appId wx\w+ is configured twice/ })
  await t.rejects(register([good, { ...good, appId: OTHER_APP_ID, appSecret: 'secret with spaces' }]), { name: 'TypeError', message: /^wechat\[1\]\.appSecret must be/ })
  const refusal = await register({ ...good, appSecret: 'secret with spaces' }).catch((err: Error) => err.message)
  t.notMatch(refusal, 'secret with spaces', 'the message does not echo the secret')
  await t.rejects(register({ ...good, baseUrl: 'ftp://example.com' }), { name: 'TypeError', message: /^wechat\.baseUrl must be/ })
  await t.rejects(register({ ...good, baseUrl: 'not a url' }), { name: 'TypeError', message: /^wechat\.baseUrl must be/ })
  await t.rejects(register({ ...good, timeout: -1 }), { name: 'TypeError', message: /^wechat\.timeout must be/ })

  const noSessions = buildApp(undefined, { umbrella: false, me: false, before: async (app) => { await app.register(wechatPlugin, { apps: good }) } })
  await t.rejects(noSessions, /mpa-sessions/)
  const noClient = buildApp(world.redis, { keyPrefix: world.prefix }, (app) => { app.register(wechatRoutes) })
  await t.rejects(noClient, /wechat routes: register fastify-miniprogram-auth \(or the plugins that add wechat\)/)
})

test('no session_key, access token or app secret in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})
