import t, { test } from 'tap'
import type { Identity } from '../../index.js'
import { APP_ID, DouyinWorld, OTHER_APP_ID } from '../helpers/douyin.js'

const clock = { ms: Date.now() }
const world = await DouyinWorld.create(t, 'douyin-login', { now: () => clock.ms })
const { sandbox } = world
const identities: Identity[] = []
const app = await world.build({ resolveUser: (identity) => { identities.push(identity); return { id: `u-${identity.openId}` } } })

test('full path: tt.login → POST login with both codes → skey → authenticated requests', async (t) => {
  identities.length = 0
  const login = await world.login(app, { openId: 'o-alice', unionId: 'union-alice', anonymousOpenId: 'device-1' })
  t.equal(login.statusCode, 200)
  t.same(Object.keys(login.json).sort(), ['expiresAt', 'skey', 'user'])
  t.same(login.json.user, { id: 'u-o-alice' })
  t.same(identities, [{ provider: 'douyin', surface: 'miniprogram', appId: APP_ID, openId: 'o-alice', unionId: 'union-alice', anonymousOpenId: 'device-1' }],
    'resolveUser learns the device too, to carry over what the user did before logging in')
  const me = await world.call(app, 'GET', '/me', undefined, login.skey)
  t.match(me.json.session, { provider: 'douyin', appId: APP_ID, openId: 'o-alice', unionId: 'union-alice' })
  const session = await world.call(app, 'GET', '/auth/session', undefined, login.skey)
  t.equal(session.statusCode, 200)
  t.equal(session.json.session.provider, 'douyin')
  const stored = await app.sessions.get(login.skey)
  t.equal(stored?.secrets.sessionKey, sandbox.sessionKeyOf('o-alice'), 'the session holds the session_key, server side')
})

test('a code alone is a login; the default user id names the openid', async (t) => {
  identities.length = 0
  const plain = await world.build()
  const login = await world.login(plain, { openId: 'o-bob', anonymousOpenId: 'device-2' }, { send: ['code'] })
  t.equal(login.statusCode, 200)
  t.same(login.json.user, { id: `douyin:${APP_ID}:o-bob` })
  const login2 = await world.login(app, { openId: 'o-bob', anonymousOpenId: 'device-2' }, { send: ['code'] })
  t.equal(login2.statusCode, 200)
  t.same(identities, [{ provider: 'douyin', surface: 'miniprogram', appId: APP_ID, openId: 'o-bob' }], 'no unionid, no device')
})

test('an anonymous login is refused unless the app accepts them', async (t) => {
  const before = sandbox.calls()
  const guest = { anonymousOpenId: 'device-guest' }
  const refused = await world.login(app, guest)
  t.equal(refused.statusCode, 403)
  t.equal(refused.json.code, 'MPA_ANONYMOUS_LOGIN_REFUSED')
  const alsoRefused = await world.login(app, { openId: 'o-carol', anonymousOpenId: 'device-3' }, { send: ['anonymousCode'] })
  t.equal(alsoRefused.json.code, 'MPA_ANONYMOUS_LOGIN_REFUSED', 'a logged-in user\'s anonymousCode alone too')
  t.equal(sandbox.calls(), before, 'refused before Douyin is asked')

  identities.length = 0
  const welcoming = await world.build({
    douyin: world.app(APP_ID, { anonymousLogin: true }),
    resolveUser: (identity) => { identities.push(identity); return { id: `guest-${identity.anonymousOpenId}` } }
  })
  const login = await world.login(welcoming, guest)
  t.equal(login.statusCode, 200)
  t.same(identities, [{ provider: 'douyin', surface: 'miniprogram', appId: APP_ID, openId: 'device-guest', anonymousOpenId: 'device-guest', anonymous: true }])
  const stored = await welcoming.sessions.get(login.skey)
  t.equal(stored?.openId, 'device-guest', 'the session is the device\'s')
  t.same(stored?.secrets, {}, 'and has no session_key: Douyin gives none for an anonymousCode')
  const info = await world.post(welcoming, '/auth/douyin/userinfo', { encryptedData: 'AAAAAAAAAAAAAAAAAAAAAA==', iv: 'AAAAAAAAAAAAAAAAAAAAAA==' }, login.skey)
  t.equal(info.statusCode, 401)
  t.equal(info.json.code, 'MPA_SESSION_KEY_EXPIRED', 'open data needs a logged-in user: log in again with a code')
})

test('bodies without a code, with a malformed one, or with other types are 400s before any call', async (t) => {
  const before = sandbox.calls()
  const bodies: object[] = [
    {},
    { appId: APP_ID },
    { code: '' },
    { code: 'has a space' },
    { anonymousCode: 'tab\there' },
    { code: 123 },
    { code: 'c'.repeat(257) },
    { code: 'ok', anonymousCode: ['x'] }
  ]
  for (const body of bodies) {
    const reply = await world.post(app, '/auth/douyin/login', body)
    t.equal(reply.statusCode, 400, JSON.stringify(body))
    t.equal(reply.json.code, 'FST_ERR_VALIDATION', JSON.stringify(body))
  }
  t.equal(sandbox.calls(), before)
})

test('a retried login gets the same answer; a spent or expired code is a 401', async (t) => {
  const user = { openId: 'o-dave', anonymousOpenId: 'device-4' }
  const codes = sandbox.login(user)
  const first = await world.post(app, '/auth/douyin/login', codes)
  const calls = sandbox.calls('jscode2session')
  const replay = await world.post(app, '/auth/douyin/login', codes)
  t.equal(replay.statusCode, 200)
  t.equal(replay.json.skey, first.json.skey, 'the same session')
  t.equal(sandbox.calls('jscode2session'), calls, 'without asking Douyin again')

  const spent = await world.post(app, '/auth/douyin/login', { code: codes.code })
  t.equal(spent.statusCode, 401, 'the code in another pairing: Douyin refuses it')
  t.equal(spent.json.code, 'MPA_CODE_INVALID')
  t.match(spent.json.message, /err_no 40018: bad code \(log_id [0-9A-F]+\)/)

  const late = sandbox.login(user)
  clock.ms += 5 * 60_000
  const expired = await world.post(app, '/auth/douyin/login', late)
  t.equal(expired.statusCode, 401)
  t.equal(expired.json.code, 'MPA_CODE_INVALID')
  clock.ms = Date.now()

  const device = sandbox.login({ anonymousOpenId: 'device-5' })
  const withBadAnonymous = await world.post(app, '/auth/douyin/login', { code: sandbox.login(user).code, anonymousCode: `${device.anonymousCode}x` })
  t.equal(withBadAnonymous.statusCode, 401)
  t.match(withBadAnonymous.json.message, /err_no 40019/)
})

test('every jscode2session err_no maps to its documented error', async (t) => {
  const table: Array<[number, number, string]> = [
    [40018, 401, 'MPA_CODE_INVALID'],
    [40019, 401, 'MPA_CODE_INVALID'],
    [40015, 500, 'MPA_MISCONFIGURED'],
    [40017, 500, 'MPA_MISCONFIGURED'],
    [40014, 502, 'MPA_UPSTREAM_ERROR'],
    [-1, 502, 'MPA_UPSTREAM_ERROR'],
    [61234, 502, 'MPA_UPSTREAM_ERROR']
  ]
  for (const [errNo, statusCode, code] of table) {
    sandbox.fail('jscode2session', { errNo })
    const logged = world.logs.lines.length
    const reply = await world.login(app, { openId: 'o-errno', anonymousOpenId: 'device-6' })
    t.equal(reply.statusCode, statusCode, `err_no ${errNo} → ${statusCode}`)
    t.equal(reply.json.code, code, `err_no ${errNo} → ${code}`)
    if (statusCode === 500) {
      t.match(reply.json.message, /Douyin refused app tt00000000000000a1 \(api\/apps\/v2\/jscode2session err_no \d+ \(log_id [0-9A-F]+\)\); the server log says what to fix/, 'the client learns no more than the log_id Douyin\'s support asks for')
      const logId = /log_id ([0-9A-F]+)/.exec(reply.json.message)![1]!
      t.match(world.logs.lines.slice(logged).join(''), `"errNo":${errNo}`, 'this login\'s log says what to fix')
      t.match(world.logs.lines.slice(logged).join(''), `"logId":"${logId}"`, 'with the log_id')
    } else {
      t.match(reply.json.message, String(errNo), 'the message names the err_no')
    }
  }
})

test('a wrong secret or appid is the operator\'s to fix: 500, and the log says which', async (t) => {
  const wrong = await world.build({ douyin: world.app(APP_ID, { appSecret: 'not-the-secret' }) })
  // Only this login's lines: the err_no table already logged the same advice.
  const logged = world.logs.lines.length
  const reply = await world.login(wrong, { openId: 'o-eve', anonymousOpenId: 'device-7' })
  t.equal(reply.statusCode, 500)
  t.equal(reply.json.code, 'MPA_MISCONFIGURED')
  t.match(world.logs.lines.slice(logged).join(''), 'invalid secret; check the douyin appId/appSecret options')
})

test('err_tips that echo the app secret are scrubbed', async (t) => {
  const secret = world.app().appSecret
  sandbox.fail('jscode2session', { errNo: 61234, errTips: `bad request for secret ${secret}` })
  const reply = await world.login(app, { openId: 'o-frank', anonymousOpenId: 'device-8' })
  t.equal(reply.statusCode, 502)
  t.match(reply.json.message, 'bad request for secret [redacted]')
  t.notMatch(reply.body, secret)
})

test('upstream failures: timeout, HTTP errors, bodies that are not JSON, replies without their fields', async (t) => {
  const impatient = await world.build({ douyin: world.app(APP_ID, { timeout: '200ms' }) })
  sandbox.fail('jscode2session', { delayMs: 2000 })
  const slow = await world.login(impatient, { openId: 'o-slow', anonymousOpenId: 'device-9' })
  t.equal(slow.statusCode, 504)
  t.equal(slow.json.code, 'MPA_UPSTREAM_TIMEOUT')

  for (const httpStatus of [500, 502, 503]) {
    sandbox.fail('jscode2session', { httpStatus })
    const reply = await world.login(app, { openId: 'o-http', anonymousOpenId: 'device-10' })
    t.equal(reply.statusCode, 502, `HTTP ${httpStatus}`)
    t.equal(reply.json.code, 'MPA_UPSTREAM_ERROR')
  }
  sandbox.fail('jscode2session', { httpStatus: 404 })
  t.match((await world.login(app, { openId: 'o-http', anonymousOpenId: 'device-10' })).json, { statusCode: 502, message: /not a JSON object/ }, 'an HTML 404')
  sandbox.fail('jscode2session', { malformed: true })
  const malformed = await world.login(app, { openId: 'o-bad-json', anonymousOpenId: 'device-11' })
  t.equal(malformed.statusCode, 502)
  t.match(malformed.json.message, /not a JSON object/)

  // err_no 0 with no data: a success that says nothing.
  sandbox.fail('jscode2session', { errNo: 0 })
  const empty = await world.login(app, { openId: 'o-empty', anonymousOpenId: 'device-12' })
  t.equal(empty.statusCode, 502)
  t.match(empty.json.message, /answered without data/)
})

test('several apps: the body\'s appId picks one; an unknown one is a 400', async (t) => {
  const both = await world.build({ douyin: [world.app(), world.app(OTHER_APP_ID)] })
  const other = await world.login(both, { openId: 'o-grace', anonymousOpenId: 'device-13' }, { appId: OTHER_APP_ID })
  t.equal(other.statusCode, 200)
  t.equal((await both.sessions.get(other.skey))?.appId, OTHER_APP_ID)
  const unknown = await world.post(both, '/auth/douyin/login', { code: 'whatever', appId: 'tt-unknown' })
  t.equal(unknown.statusCode, 400)
  t.equal(unknown.json.code, 'MPA_UNKNOWN_APP')
})

test('bad douyin options fail at register time, naming the option', async (t) => {
  const cases: Array<[object, RegExp]> = [
    [{ appSecret: 's' }, /^douyin\.appId must be the mini-program AppID, such as 'tt/],
    [{ appId: APP_ID }, /^douyin\.appSecret must be/],
    [{ appId: APP_ID, appSecret: 's', baseUrl: 'ftp://x' }, /^douyin\.baseUrl must be an http\(s\) URL/],
    [{ appId: APP_ID, appSecret: 's', anonymousLogin: 'yes' }, /^douyin\.anonymousLogin must be a boolean/]
  ]
  for (const [douyin, message] of cases) {
    await t.rejects(world.build({ douyin: douyin as never }), { message }, JSON.stringify(douyin))
  }
  await t.rejects(world.build({ douyin: [world.app(), { appSecret: 's' } as never] }), { message: /^douyin\[1\]\.appId/ })
})

test('no session_key, app secret or skey in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})
