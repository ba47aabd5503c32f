import t, { test } from 'tap'
import type { Identity } from '../../index.js'
import { wecomAppsOf } from '../../providers/wecom/options.js'
import { createWecomSandbox, type WecomSandboxFault } from '../../sandbox/wecom.js'
import { checkFaults } from '../helpers/upstream-faults.js'
import { World } from '../helpers/world.js'

// WeCom (企业微信) through the real HTTP client against its sandbox and a real
// Redis: wx.qy.login → POST /wecom/login → a session for the corp user; the
// corp's access token shared by every instance and replaced when refused;
// codes replayed, used, made up; faults; a refused corp.

const APP_ID = 'wx00000000000000c1'
const CORP_ID = 'ww0000000000000001'
const SECRET = 'wecom-app-secret-0123456789abcdef'
const sandbox = await createWecomSandbox({ corps: { [CORP_ID]: SECRET, ww0000000000000002: 'other-corp-secret-0123456789' } })
t.teardown(() => sandbox.close())
const world = new World(t, 'wecom-login')
world.watch(() => sandbox.secrets())
const wecom = { appId: APP_ID, corpId: CORP_ID, appSecret: SECRET, baseUrl: sandbox.url, timeout: '1s' }
const identities: Identity[] = []
const app = await world.build({ wecom, resolveUser: (identity) => { identities.push(identity); return { id: `u-${identity.corpUserId}` } } })
const post = (code: string, on = app) => world.post(on, '/auth/wecom/login', { code })
const login = (userId: string, on = app) => post(sandbox.login({ corpId: CORP_ID, userId }).code, on)

test('wx.qy.login → POST /wecom/login → a session for the corp user (corpid + userid), holding the session_key', async (t) => {
  const reply = await login('zhangsan')
  t.equal(reply.statusCode, 200)
  t.same(identities, [{ provider: 'wecom', surface: 'miniprogram', appId: APP_ID, openId: `${CORP_ID}:zhangsan`, corpId: CORP_ID, corpUserId: 'zhangsan' }])
  const session = await world.call(app, 'GET', '/auth/session', undefined, reply.json.skey)
  t.match(session.json.session, { provider: 'wecom', appId: APP_ID, openId: `${CORP_ID}:zhangsan` })
  t.equal((await app.sessions.get(reply.json.skey))?.secrets.sessionKey, sandbox.sessionKeyOf({ corpId: CORP_ID, userId: 'zhangsan' }))
  const plain = await world.build({ wecom, keyPrefix: world.subPrefix() })
  t.same((await login('lisi', plain)).json.user, { id: `wecom:${APP_ID}:${CORP_ID}:lisi` }, 'the default user id names the corp user')
})

test('the corp\'s access token: fetched once for every instance, reused, replaced once when WeCom refuses it', async (t) => {
  const prefix = world.subPrefix('token')
  const [one, other] = await Promise.all([1, 2].map(() => world.build({ wecom, keyPrefix: prefix })))
  const before = sandbox.calls('gettoken')
  const replies = await Promise.all([login('a1', one), login('a2', other), login('a3', one)])
  t.same(replies.map((reply) => reply.statusCode), [200, 200, 200])
  t.equal(sandbox.calls('gettoken') - before, 1, 'one gettoken for three logins on two instances')
  const stored = await world.redis.get(`${prefix}wecom:token:${CORP_ID}:${APP_ID}`)
  t.ok(stored && !sandbox.secrets().some((secret) => stored.includes(secret)), 'kept in Redis sealed with the app\'s keys, not in clear')
  sandbox.expireTokens(CORP_ID)
  const calls = sandbox.calls('jscode2session')
  t.equal((await login('a4', other)).statusCode, 200, 'a refused token (42001) is replaced and the login goes through')
  t.equal(sandbox.calls('gettoken') - before, 2, 'one more gettoken')
  t.equal(sandbox.calls('jscode2session') - calls, 2, 'the refused call, then the call with the new token')
  t.match(world.logs.text, 'WeCom refused the access token: fetching another')
  sandbox.fail('jscode2session', { errcode: 42001, times: 2 })
  t.match((await login('a5', other)).json, { statusCode: 502, code: 'MPA_UPSTREAM_ERROR', message: /errcode 42001/ }, 'refused again with the new token: one retry, never two')
})

test('a used, made-up or other corp\'s code', async (t) => {
  const { code } = sandbox.login({ corpId: CORP_ID, userId: 'wangwu' })
  t.equal((await post(code)).statusCode, 200)
  const elsewhere = await world.build({ wecom, keyPrefix: world.subPrefix() })
  t.match((await post(code, elsewhere)).json, { statusCode: 401, code: 'MPA_CODE_INVALID', message: /errcode 40029/ }, 'used')
  t.match((await post('made-up')).json, { statusCode: 401, code: 'MPA_CODE_INVALID' })
  const stranger = sandbox.login({ corpId: 'ww0000000000000002', userId: 'zhaoliu' }).code
  t.match((await post(stranger)).json, { statusCode: 403, code: 'MPA_CODE_BLOCKED', message: /another corp/ }, 'a member of a corp this app is not configured for')
})

test('upstream faults and a refused corp: each maps to its error, with the documented number of calls', async (t) => {
  const fresh = await world.build({ wecom, keyPrefix: world.subPrefix('faults') })
  await login('warm', fresh) // the token is cached: faults below hit jscode2session only
  await checkFaults<WecomSandboxFault>(t, {
    world,
    fail: (fault) => sandbox.fail('jscode2session', fault),
    calls: () => sandbox.calls('jscode2session'),
    login: () => login('f', fresh),
    secret: SECRET,
    fix: `WeCom refused app ${APP_ID} (corp ${CORP_ID}): the server IP is not in the WeCom app's trusted IPs`
  }, [
    ['timeout', { delayMs: 2500 }, 504, 'MPA_UPSTREAM_TIMEOUT', undefined, 1],
    ['HTTP 500', { httpStatus: 500 }, 502, 'MPA_UPSTREAM_ERROR', /HTTP 500/, 1],
    ['a body that is not JSON', { malformed: true }, 502, 'MPA_UPSTREAM_ERROR', /not a JSON object/, 1],
    ['busy once: the retry succeeds', { errcode: -1 }, 200, undefined, undefined, 2],
    ['busy twice: one retry, never two', { errcode: -1, times: 2 }, 502, 'MPA_UPSTREAM_ERROR', /errcode -1/, 2],
    ['an IP not trusted', { errcode: 60020 }, 500, 'MPA_MISCONFIGURED', /^Server misconfiguration: WeCom refused app/, 1]
  ])
  const wrongSecret = await world.build({ wecom: { ...wecom, appSecret: 'not-the-secret' }, keyPrefix: world.subPrefix() })
  t.match((await login('w', wrongSecret)).json, { statusCode: 500, code: 'MPA_MISCONFIGURED' }, 'gettoken refuses a wrong secret (40001)')
  t.match(world.logs.text, 'invalid secret (the Secret of the WeCom app the mini-program is associated with)')
  const wrongCorp = await world.build({ wecom: { ...wecom, corpId: 'ww00000000000000ff' }, keyPrefix: world.subPrefix() })
  t.match((await login('w', wrongCorp)).json, { statusCode: 500, code: 'MPA_MISCONFIGURED' }, 'and an unknown corp (40013)')
  sandbox.fail('gettoken', { errcode: 45009 })
  const throttled = await world.build({ wecom, keyPrefix: world.subPrefix() })
  t.match((await login('w', throttled)).json, { statusCode: 429, code: 'MPA_UPSTREAM_RATE_LIMITED' }, 'gettoken throttled')
  sandbox.fail('gettoken', { httpStatus: 503 })
  t.match((await login('w', throttled)).json, { statusCode: 502, code: 'MPA_UPSTREAM_ERROR' }, 'gettoken failing')
  t.equal((await login('after', fresh)).statusCode, 200, 'no fault left over')
})

test('the wecom option: WeCom\'s host by default, the corpId required', async (t) => {
  t.match(wecomAppsOf({ appId: APP_ID, corpId: CORP_ID, appSecret: SECRET }), [{ origin: 'https://qyapi.weixin.qq.com', corpId: CORP_ID }])
  await t.rejects(world.build({ wecom: { appId: APP_ID, appSecret: SECRET } as never }), { message: /^wecom\.corpId must be the corp's ID/ })
})

test('no session_key, app secret, access token or skey in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})
