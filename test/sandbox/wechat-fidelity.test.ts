import { test, type Test } from 'tap'
import { request } from 'undici'
import { createWechatSandbox, type WechatSandbox } from '../../sandbox/wechat.js'

// The WeChat sandbox behaves as WeChat does where clients can tell: login codes
// of WeChat's shape, HTTP 200 with an errcode for unknown paths and wrong
// methods, stable_token's normal and forced modes with their limits, and phone
// codes bound to their user.

const APP = 'wx0123456789fidel'
const SECRET = 'fidelity-test-secret-0123456789'

async function sandboxWithClock (t: Test): Promise<{ sandbox: WechatSandbox, clock: { ms: number } }> {
  const clock = { ms: Date.UTC(2026, 0, 1, 1) } // 09:00 in China
  const sandbox = await createWechatSandbox({ apps: { [APP]: SECRET }, now: () => clock.ms })
  t.teardown(() => sandbox.close())
  return { sandbox, clock }
}

async function call (sandbox: WechatSandbox, method: string, pathAndQuery: string, body?: object): Promise<{ status: number, contentType: string, json: Record<string, any> }> {
  const response = await request(`${sandbox.url}${pathAndQuery}`, {
    method: method as 'GET',
    ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {})
  })
  return { status: response.statusCode, contentType: String(response.headers['content-type']), json: await response.body.json() as Record<string, any> }
}

const tokenBody = (extra: object = {}) => ({ grant_type: 'client_credential', appid: APP, secret: SECRET, ...extra })
const stableToken = async (sandbox: WechatSandbox, forceRefresh = false) =>
  (await call(sandbox, 'POST', '/cgi-bin/stable_token', tokenBody(forceRefresh ? { force_refresh: true } : {}))).json
const ACCEPTED = 40029
/** What a token gets from getuserphonenumber with a made-up code: 40001 when refused, ACCEPTED (invalid code) when WeChat took the token. */
const tokenErrcode = async (sandbox: WechatSandbox, token: string): Promise<number> =>
  (await call(sandbox, 'POST', `/wxa/business/getuserphonenumber?access_token=${token}`, { code: 'no-such-code' })).json.errcode

test('login codes are 32 characters of [0-9A-Za-z], as WeChat\'s', async (t) => {
  const { sandbox } = await sandboxWithClock(t)
  const codes = Array.from({ length: 500 }, (_, i) => sandbox.issueCode({ openId: `o-${i}` }))
  t.equal(codes.filter((code) => !/^[0-9A-Za-z]{32}$/.test(code)).length, 0)
  t.equal(new Set(codes).size, codes.length, 'all different')
  t.ok(new Set(codes.join('')).size >= 60, 'drawn from the whole alphabet')
})

test('unknown paths and wrong methods: HTTP 200 with an errcode, never a 404', async (t) => {
  const { sandbox } = await sandboxWithClock(t)
  for (const [method, path] of [['GET', '/nowhere'], ['POST', '/cgi-bin/nowhere'], ['GET', '/sns/jscode2session/extra'], ['GET', '/']]) {
    const answer = await call(sandbox, method!, path!)
    t.match(answer, { status: 200, contentType: /json/, json: { errcode: 40066, errmsg: /^invalid url/ } }, `${method} ${path}`)
  }
  t.equal(sandbox.calls(), 0, 'unknown paths are no endpoint\'s calls')

  const code = sandbox.issueCode({ openId: 'o-alice' })
  const query = `?${new URLSearchParams({ appid: APP, secret: SECRET, js_code: code, grant_type: 'authorization_code' })}`
  t.match(await call(sandbox, 'POST', `/sns/jscode2session${query}`), { status: 200, json: { errcode: 43001, errmsg: /^require GET method, rid: / } }, 'POST to jscode2session')
  t.match(await call(sandbox, 'GET', '/cgi-bin/stable_token'), { status: 200, json: { errcode: 43002, errmsg: /^require POST method, rid: / } }, 'GET to stable_token')
  t.match(await call(sandbox, 'GET', '/wxa/business/getuserphonenumber'), { status: 200, json: { errcode: 43002 } }, 'GET to getuserphonenumber')
  t.equal(sandbox.calls('jscode2session'), 1, 'a wrong method is a call to the endpoint at that path')
  t.equal((await call(sandbox, 'GET', `/sns/jscode2session${query}`)).json.openid, 'o-alice', 'and it did not spend the code')
})

test('stable_token: normal mode hands out the current token; forced gives a new one and kills the old', async (t) => {
  const { sandbox, clock } = await sandboxWithClock(t)
  const first = await stableToken(sandbox)
  t.equal((await stableToken(sandbox)).access_token, first.access_token, 'normal mode: the same token')
  const forced = await stableToken(sandbox, true)
  t.not(forced.access_token, first.access_token)
  t.equal(forced.expires_in, 7200)
  t.equal(await tokenErrcode(sandbox, first.access_token), 40001, 'the old token is refused at once')
  t.equal(await tokenErrcode(sandbox, forced.access_token), ACCEPTED)
  t.equal((await stableToken(sandbox)).access_token, forced.access_token, 'normal mode now hands out the forced one')

  clock.ms += 29_000
  const again = await stableToken(sandbox, true)
  t.same(Object.keys(again).sort(), ['access_token', 'expires_in'], 'a second forced refresh within 30 s is no error')
  t.equal(again.access_token, forced.access_token, 'and does not refresh: the current token')
  t.equal(again.expires_in, 7200 - 29, 'with what is left of its life')
  t.equal(await tokenErrcode(sandbox, forced.access_token), ACCEPTED, 'which still works')
  clock.ms += 1_000
  t.not((await stableToken(sandbox, true)).access_token, forced.access_token, '30 s later it refreshes')
  t.equal(sandbox.forcedRefreshes, 3, 'forcedRefreshes counts every forced request, those within 30 s included')
})

test('stable_token: 20 forced refreshes a day per AppID, then 45009 until the next China day', async (t) => {
  const { sandbox, clock } = await sandboxWithClock(t)
  sandbox.addApp('wx-other', 'other-secret')
  const tokens = new Set<string>()
  for (let i = 0; i < 20; i++) {
    tokens.add((await stableToken(sandbox, true)).access_token)
    clock.ms += 30_000
  }
  t.equal(tokens.size, 20, '20 forced refreshes, 30 s apart')
  const refused = await stableToken(sandbox, true)
  t.match(refused, { errcode: 45009, errmsg: /^reach max api daily quota limit/ }, 'the 21st of the day')
  t.notOk('access_token' in refused)
  t.ok((await stableToken(sandbox)).access_token, 'normal mode still answers')
  const other = await call(sandbox, 'POST', '/cgi-bin/stable_token', { grant_type: 'client_credential', appid: 'wx-other', secret: 'other-secret', force_refresh: true })
  t.ok(other.json.access_token, 'the quota is per AppID')
  clock.ms = Date.UTC(2026, 0, 1, 16) // midnight in China
  t.ok((await stableToken(sandbox, true)).access_token, 'a new day, a new quota')
})

test('rotateToken plays another service forcing a refresh', async (t) => {
  const { sandbox, clock } = await sandboxWithClock(t)
  const before = (await stableToken(sandbox)).access_token
  sandbox.rotateToken(APP)
  const after = (await stableToken(sandbox)).access_token
  t.not(after, before, 'normal mode hands out the new token')
  t.equal(await tokenErrcode(sandbox, before), 40001, 'the old one is refused')
  t.equal(sandbox.forcedRefreshes, 0, 'not a request this sandbox received')
  t.equal((await stableToken(sandbox, true)).access_token, after, 'it counts against the AppID\'s 30 s: no refresh')
  clock.ms += 30_000
  t.ok((await stableToken(sandbox, true)).access_token)
  t.throws(() => sandbox.rotateToken('wx-unknown'), /unknown app/)
})

test('getuserphonenumber with an openid: a code given to another user is refused, and not spent', async (t) => {
  const { sandbox } = await sandboxWithClock(t)
  sandbox.issueCode({ openId: 'o-alice', phone: '13800138000' })
  sandbox.issueCode({ openId: 'o-bob', phone: '13900139000' })
  const token = (await stableToken(sandbox)).access_token
  const redeem = async (body: object) => (await call(sandbox, 'POST', `/wxa/business/getuserphonenumber?access_token=${token}`, body)).json
  const bobs = sandbox.phoneCode('o-bob')
  t.match(await redeem({ code: bobs, openid: 'o-alice' }), { errcode: 40029 }, 'Bob\'s code with Alice\'s openid')
  t.match(await redeem({ code: bobs, openid: 42 }), { errcode: 40029 }, 'an openid that is not a string')
  t.match(await redeem({ code: bobs, openid: 'o-bob' }), { errcode: 0, phone_info: { purePhoneNumber: '13900139000' } }, 'with Bob\'s: still redeemable')
  t.match(await redeem({ code: bobs, openid: 'o-bob' }), { errcode: 40029 }, 'and now spent')
  t.match(await redeem({ code: sandbox.phoneCode('o-alice') }), { errcode: 0, phone_info: { purePhoneNumber: '13800138000' } }, 'no openid: no owner check')
})
