import t, { test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import type { FastifyInstance } from 'fastify'
import { APP_ID, WechatWorld } from '../helpers/wechat.js'

const world = await WechatWorld.create(t, 'wechat-token')
const { sandbox } = world
const first = await world.build()
const second = await world.build()

async function phone (app: FastifyInstance, openId: string, within = world) {
  const { skey } = await within.login(app, openId, { phone: '13900139000' })
  return within.post(app, '/auth/wechat/phone', { code: within.sandbox.phoneCode(openId) }, skey)
}

test('two instances share one access token: one upstream token call', async (t) => {
  // No token cached yet, and every caller starts while the first fetch is
  // under way (it takes 500 ms): the others must wait on the Redis lock.
  sandbox.fail('stable_token', { delayMs: 500 })
  const started = Date.now()
  const tokens = await Promise.all([first, second, first, second].map((app) => app.wechat.accessToken()))
  t.ok(Date.now() - started >= 450, 'all of them waited for the one fetch')
  t.equal(new Set(tokens).size, 1)
  t.equal(sandbox.calls('stable_token'), 1)
  const replies = await Promise.all([first, second, first, second].map((app, i) => phone(app, `o-share-${i}`)))
  t.same(replies.map((reply) => reply.statusCode), [200, 200, 200, 200])
  t.equal(sandbox.calls('stable_token'), 1, 'and phone numbers use it')
})

test('the token is renewed before it expires, by one instance', async (t) => {
  // Tokens that live 2 s: renewal in the last half of their life shows without waiting hours.
  const short = await WechatWorld.create(t, 'wechat-token-renewal', { accessTokenTtl: 2 })
  const [a, b] = [await short.build(), await short.build()]
  const old = await a.wechat.accessToken()
  const before = short.sandbox.calls('stable_token')
  await sleep(1100)
  const tokens = await Promise.all([a, b, a, b].map((app) => app.wechat.accessToken()))
  t.equal(short.sandbox.calls('stable_token') - before, 1, 'one renewal for every caller of every instance')
  const renewed = await b.wechat.accessToken()
  t.not(renewed, old)
  t.ok(tokens.every((token) => token === old || token === renewed), 'meanwhile the old one, still valid, serves')
  t.equal((await phone(a, 'o-renewed', short)).statusCode, 200)
  short.assertNoSecrets(t)
})

test('a token WeChat refuses: stable_token in normal mode gives the current one, and one retry', async (t) => {
  await first.wechat.accessToken()
  // Another system forces a refresh: our cached token stops working (40001).
  const other = await request(`${sandbox.url}/cgi-bin/stable_token`, {
    method: 'POST',
    body: JSON.stringify({ grant_type: 'client_credential', appid: APP_ID, secret: world.app().appSecret, force_refresh: true })
  })
  t.ok(((await other.body.json()) as { access_token?: string }).access_token)
  const forcedBefore = sandbox.forcedRefreshes
  const phoneBefore = sandbox.calls('getuserphonenumber')
  t.equal((await phone(second, 'o-stale')).statusCode, 200)
  t.equal(sandbox.calls('getuserphonenumber') - phoneBefore, 2, 'refused once, retried once')
  t.equal(sandbox.forcedRefreshes - forcedBefore, 0, 'without force_refresh')
  t.equal((await phone(first, 'o-stale-2')).statusCode, 200, 'the other instance uses the new token without refreshing again')
  t.equal(sandbox.forcedRefreshes - forcedBefore, 0)

  for (const errcode of [42001, 40014]) {
    sandbox.rotateToken(APP_ID)
    sandbox.fail('getuserphonenumber', { errcode })
    t.equal((await phone(first, `o-${errcode}`)).statusCode, 200, `errcode ${errcode} → refresh and retry`)
  }
  sandbox.rotateToken(APP_ID)
  sandbox.fail('checksession', { errcode: 40001 })
  const { skey } = await world.login(first, 'o-check')
  t.equal(await first.wechat.checkSessionKey('o-check', (await first.sessions.get(skey))!.secrets.sessionKey!), true)

  const refusals = sandbox.calls('getuserphonenumber')
  sandbox.rotateToken(APP_ID)
  sandbox.fail('getuserphonenumber', { errcode: 40001, times: 2 })
  t.match((await phone(first, 'o-refused')).json, { statusCode: 502, code: 'MPA_UPSTREAM_ERROR', message: /errcode 40001/ })
  t.equal(sandbox.calls('getuserphonenumber') - refusals, 2, 'no second refresh')
})

test('getuserphonenumber errcodes', async (t) => {
  const table: Array<[number, number, string]> = [
    [45011, 429, 'MPA_UPSTREAM_RATE_LIMITED'],
    [40013, 500, 'MPA_MISCONFIGURED'],
    [40029, 400, 'MPA_PHONE_CODE_INVALID'],
    [-1, 200, ''],
    [61234, 502, 'MPA_UPSTREAM_ERROR']
  ]
  for (const [errcode, statusCode, code] of table) {
    sandbox.fail('getuserphonenumber', { errcode })
    const reply = await phone(first, `o-phone-${errcode}`)
    t.equal(reply.statusCode, statusCode, `errcode ${errcode} → ${statusCode}`)
    if (code) t.equal(reply.json.code, code)
  }
})

test('failures fetching the token', async (t) => {
  const isolated = async (appSecret?: string, timeout = '2s') => {
    // A prefix of its own: no token cached by the other tests.
    return world.build({ wechat: world.app(APP_ID, { timeout, ...(appSecret ? { appSecret } : {}) }), keyPrefix: world.subPrefix('isolated') })
  }
  const misconfigured = await isolated('a-secret-wechat-does-not-know')
  await t.rejects(misconfigured.wechat.accessToken(), { statusCode: 500, code: 'MPA_MISCONFIGURED', message: /stable_token errcode 40125/ })

  const slow = await isolated(undefined, '200ms')
  sandbox.fail('stable_token', { delayMs: 1000 })
  t.match((await phone(slow, 'o-t2')).json, { statusCode: 504, code: 'MPA_UPSTREAM_TIMEOUT' })
  t.equal((await phone(slow, 'o-t3')).statusCode, 200, 'the lock was released: the next call fetches')

  const broken = await isolated()
  sandbox.fail('stable_token', { malformed: true })
  t.match((await phone(broken, 'o-t4')).json, { statusCode: 502, code: 'MPA_UPSTREAM_ERROR' })
  sandbox.fail('stable_token', { errcode: -1 })
  t.equal((await phone(broken, 'o-t5')).statusCode, 200, 'busy: retried once')
})

test('no session_key, access token or app secret in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})
