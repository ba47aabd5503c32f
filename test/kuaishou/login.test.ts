import diagnostics from 'node:diagnostics_channel'
import t, { test } from 'tap'
import type { Identity, UpstreamEvent } from '../../index.js'
import { kuaishouAppsOf } from '../../providers/kuaishou/options.js'
import { createKuaishouSandbox, type KuaishouSandboxFault } from '../../sandbox/kuaishou.js'
import { checkFaults } from '../helpers/upstream-faults.js'
import { World } from '../helpers/world.js'

// Kuaishou through the real HTTP client against its sandbox and a real Redis:
// ks.login → POST /kuaishou/login → a session; replayed, expired and used
// codes; upstream faults; a refused app; user info and phone data.

const APP_ID = 'ks671234567890123456'
const SECRET = 'ks-secret-0123456789abcdef'
const clock = { ms: Date.now() }
const sandbox = await createKuaishouSandbox({ apps: { [APP_ID]: SECRET }, now: () => clock.ms })
t.teardown(() => sandbox.close())
const world = new World(t, 'kuaishou-login')
world.watch(() => sandbox.secrets())
const kuaishou = { appId: APP_ID, appSecret: SECRET, baseUrl: sandbox.url, timeout: '1s' }
const identities: Identity[] = []
const app = await world.build({ kuaishou, resolveUser: (identity) => { identities.push(identity); return { id: `u-${identity.openId}` } } })
const calls = () => sandbox.calls('code2session')
const post = (code: string, on = app) => world.post(on, '/auth/kuaishou/login', { code })

test('ks.login → POST /kuaishou/login → a Kuaishou session holding the session_key; a replayed code gets the same answer', async (t) => {
  const { code } = sandbox.login({ openId: 'o-alice', phone: '13800000001' })
  const reply = await post(code)
  t.equal(reply.statusCode, 200)
  t.same(identities, [{ provider: 'kuaishou', surface: 'miniprogram', appId: APP_ID, openId: 'o-alice' }])
  const session = await world.call(app, 'GET', '/auth/session', undefined, reply.json.skey)
  t.match(session.json.session, { provider: 'kuaishou', appId: APP_ID, openId: 'o-alice' })
  t.equal((await app.sessions.get(reply.json.skey))?.secrets.sessionKey, sandbox.sessionKeyOf('o-alice'))
  const before = calls()
  t.same((await post(code)).json, reply.json, 'the replay: the same skey')
  t.equal(calls(), before, 'and no upstream call')
  const plain = await world.build({ kuaishou, keyPrefix: world.subPrefix() })
  t.same((await post(sandbox.login({ openId: 'o-bob' }).code, plain)).json.user, { id: `kuaishou:${APP_ID}:o-bob` }, 'the default user id names Kuaishou')
})

test('an expired, a used or a made-up code: 401 MPA_CODE_INVALID', async (t) => {
  const late = sandbox.login({ openId: 'o-late' }).code
  clock.ms += 5 * 60_000
  t.match((await post(late)).json, { statusCode: 401, code: 'MPA_CODE_INVALID', message: /code2session 100200100/ }, 'expired after 5 minutes')
  clock.ms = Date.now()
  const used = sandbox.login({ openId: 'o-used' }).code
  t.equal((await post(used)).statusCode, 200)
  const elsewhere = await world.build({ kuaishou, keyPrefix: world.subPrefix() })
  t.match((await post(used, elsewhere)).json, { statusCode: 401, code: 'MPA_CODE_INVALID' }, 'used, on an instance whose replay window does not know it')
  t.match((await post('made-up')).json, { statusCode: 401, code: 'MPA_CODE_INVALID' })
  t.match((await world.post(app, '/auth/kuaishou/login', { code: '' })).json, { statusCode: 400, code: 'FST_ERR_VALIDATION' }, 'an empty code never reaches Kuaishou')
})

test('upstream faults and a refused app: each maps to its error', async (t) => {
  const login = () => post(sandbox.login({ openId: 'o-fault' }).code)
  await checkFaults<KuaishouSandboxFault>(t, { world, fail: (fault) => sandbox.fail('code2session', fault), calls, login, secret: SECRET, fix: `Kuaishou refused app ${APP_ID}: app_id or app_secret is wrong; check the kuaishou options` }, [
    ['timeout', { delayMs: 2500 }, 504, 'MPA_UPSTREAM_TIMEOUT', undefined, 1],
    ['HTTP 500', { httpStatus: 500 }, 502, 'MPA_UPSTREAM_ERROR', /HTTP 500/, 1],
    ['HTTP 502', { httpStatus: 502 }, 502, 'MPA_UPSTREAM_ERROR', /HTTP 502/, 1],
    ['a body that is not JSON', { malformed: true }, 502, 'MPA_UPSTREAM_ERROR', /not a JSON object/, 1],
    ['an undocumented result', { result: 500002, errorMsg: `busy ${SECRET}` }, 502, 'MPA_UPSTREAM_ERROR', /code2session 500002: busy \[redacted\]/, 1],
    ['a wrong app_id or app_secret', { result: 100200101 }, 500, 'MPA_MISCONFIGURED', /^Server misconfiguration: Kuaishou refused app ks671234567890123456/, 1]
  ])
  const wrong = await world.build({ kuaishou: { ...kuaishou, appSecret: 'not-the-secret' } })
  t.match((await post(sandbox.login({ openId: 'o-wrong' }).code, wrong)).json, { statusCode: 500, code: 'MPA_MISCONFIGURED' }, 'the sandbox refuses a wrong secret as Kuaishou does')
  t.equal((await post(sandbox.login({ openId: 'o-after' }).code)).statusCode, 200, 'no fault left over')
})

test('user info and phone: decrypted with the latest session_key; another platform\'s session may not use them', async (t) => {
  const { json: { skey } } = await post(sandbox.login({ openId: 'o-carol', phone: '13800000002' }).code)
  const info = sandbox.userInfo('o-carol')
  const reply = await world.post(app, '/auth/kuaishou/userinfo', { encryptedData: info.encryptedData, iv: info.iv, rawData: info.rawData, signature: info.signature }, skey)
  t.same(reply.json, info.userInfo)
  t.same((await world.post(app, '/auth/kuaishou/phone', sandbox.phoneData('o-carol'), skey)).json, { phoneNumber: '13800000002', purePhoneNumber: '13800000002', countryCode: '86' })
  const opened = await app.kuaishou.openForSession((await app.sessions.get(skey))!, info.encryptedData, info.iv)
  t.same(opened, { data: info.userInfo, sessionKey: sandbox.sessionKeyOf('o-carol') }, 'fastify.kuaishou opens data for the app\'s own routes')
  // A later ks.login elsewhere rotated the key: data sealed with it still opens for this session.
  sandbox.login({ openId: 'o-carol', phone: '13800000002' })
  await post(sandbox.login({ openId: 'o-carol', phone: '13800000002' }).code)
  t.equal((await world.post(app, '/auth/kuaishou/phone', sandbox.phoneData('o-carol'), skey)).statusCode, 200, 'the latest key opens it')
  t.match((await world.post(app, '/auth/kuaishou/phone', { encryptedData: 'AAAA', iv: 'AAAA' }, skey)).json, { statusCode: 400, code: 'MPA_BAD_ENCRYPTED_DATA' })
  const { skey: other } = await app.sessions.create({ provider: 'qq', appId: 'x', openId: 'o-carol' }, { user: { id: 'q' } })
  t.match((await world.post(app, '/auth/kuaishou/phone', sandbox.phoneData('o-carol'), other)).json, { statusCode: 403, code: 'MPA_WRONG_PROVIDER' })
})

test('the diagnostics channel: each code2session call, with Kuaishou\'s result when it refused', async (t) => {
  const events: UpstreamEvent[] = []
  const listen = (event: unknown) => { events.push(event as UpstreamEvent) }
  diagnostics.subscribe('fastify-miniprogram-auth:upstream', listen)
  t.teardown(() => diagnostics.unsubscribe('fastify-miniprogram-auth:upstream', listen))
  await post(sandbox.login({ openId: 'o-traced' }).code)
  await post('traced-made-up')
  t.match(events, [
    { provider: 'kuaishou', operation: 'oauth2/mp/code2session', appId: APP_ID, outcome: 'ok' },
    { provider: 'kuaishou', operation: 'oauth2/mp/code2session', outcome: 'error', errcode: 100200100 }
  ])
})

test('the kuaishou option: Kuaishou\'s host by default, errors that name the option', async (t) => {
  t.match(kuaishouAppsOf({ appId: APP_ID, appSecret: SECRET }), [{ origin: 'https://open.kuaishou.com', pathPrefix: '' }])
  await t.rejects(world.build({ kuaishou: { appSecret: SECRET } as never }), { message: /^kuaishou\.appId must be the mini-program AppID, such as 'ks671234567890123456'/ })
})

test('no session_key, app secret or skey in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})
