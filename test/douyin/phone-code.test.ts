import { constants, publicEncrypt } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import diagnostics from 'node:diagnostics_channel'
import type { FastifyInstance } from 'fastify'
import t, { test } from 'tap'
import type { UpstreamEvent } from '../../index.js'
import { generateRsaKeyPair } from '../../sandbox/index.js'
import { APP_ID, DouyinWorld, OTHER_APP_ID } from '../helpers/douyin.js'

// Douyin's code-based phone number (base library 3.51.0+) through the real
// HTTP client against the Douyin sandbox and a real Redis: the code goes to
// get_phonenumber_info with the app's client_token (shared by every
// instance), and the answer opens with the app's RSA private key.

const keys = generateRsaKeyPair({ format: 'pkcs1' })
const strangerKeys = generateRsaKeyPair()
const world = await DouyinWorld.create(t, 'douyin-phone-code')
world.watch(() => [keys.privateKey, strangerKeys.privateKey])
const { sandbox } = world
sandbox.setPhoneKey(APP_ID, keys.publicKey)
const douyin = (extra = {}) => world.app(APP_ID, { phonePrivateKey: keys.privateKey, openApiBaseUrl: sandbox.url, timeout: '1s', ...extra })
const app = await world.build({ douyin: douyin() })
const user = { openId: 'o-phone', anonymousOpenId: 'd-phone', phone: '13700000001' }

test('a getPhoneNumber code → the number, opened with the app\'s key and its watermark checked; one client_token for many codes', async (t) => {
  const { skey } = await world.login(app, user)
  const tokens = sandbox.calls('client_token')
  const reply = await world.post(app, '/auth/douyin/phone', { code: sandbox.phoneCode('o-phone') }, skey)
  t.same(reply.json, { phoneNumber: '13700000001', purePhoneNumber: '13700000001', countryCode: '86' })
  t.equal((await world.post(app, '/auth/douyin/phone', { code: sandbox.phoneCode('o-phone') }, skey)).statusCode, 200)
  t.equal(sandbox.calls('client_token') - tokens, 1, 'the client_token is reused')
  t.equal((await world.post(app, '/auth/douyin/phone', sandbox.phoneData('o-phone'), skey)).statusCode, 200, 'the encrypted-data button still works')
})

test('a spent or made-up code: 400 MPA_PHONE_CODE_INVALID; a body with both shapes: 400', async (t) => {
  const { skey } = await world.login(app, user)
  const code = sandbox.phoneCode('o-phone')
  t.equal((await world.post(app, '/auth/douyin/phone', { code }, skey)).statusCode, 200)
  t.match((await world.post(app, '/auth/douyin/phone', { code }, skey)).json, { statusCode: 400, code: 'MPA_PHONE_CODE_INVALID', message: /err_no 28005187/ })
  t.match((await world.post(app, '/auth/douyin/phone', { code: 'made-up' }, skey)).json, { statusCode: 400, code: 'MPA_PHONE_CODE_INVALID' })
  t.match((await world.post(app, '/auth/douyin/phone', { code, ...sandbox.phoneData('o-phone') }, skey)).json, { statusCode: 400, code: 'FST_ERR_VALIDATION' })
  t.match((await world.post(app, '/auth/douyin/phone', { code: 'has space' }, skey)).json, { statusCode: 400, code: 'FST_ERR_VALIDATION' })
})

test('the diagnostics channel: client_token and get_phonenumber_info calls, with Douyin\'s number when it refused', async (t) => {
  const events: UpstreamEvent[] = []
  const listen = (event: unknown) => { events.push(event as UpstreamEvent) }
  diagnostics.subscribe('fastify-miniprogram-auth:upstream', listen)
  t.teardown(() => diagnostics.unsubscribe('fastify-miniprogram-auth:upstream', listen))
  const fresh = await world.build({ douyin: douyin(), keyPrefix: world.subPrefix('traced') })
  const { skey } = await world.login(fresh, user)
  await world.post(fresh, '/auth/douyin/phone', { code: 'traced-made-up' }, skey)
  t.match(events.filter((event) => event.operation !== 'api/apps/v2/jscode2session'), [
    { provider: 'douyin', operation: 'oauth/client_token/', outcome: 'ok' },
    { provider: 'douyin', operation: 'api/apps/v1/get_phonenumber_info/', outcome: 'error', errcode: 28005187 }
  ])
})

test('the client_token is fetched by one instance for all, and a new one ends the old one: no instance asks again while it is fresh', async (t) => {
  const prefix = world.subPrefix('token')
  const [one, other] = await Promise.all([1, 2].map(() => world.build({ douyin: douyin(), keyPrefix: prefix }))) as [FastifyInstance, FastifyInstance]
  const tokens = sandbox.calls('client_token')
  const sessions = await Promise.all([world.login(one, user), world.login(other, { ...user, openId: 'o-phone-2', anonymousOpenId: 'd-2' })])
  const replies = await Promise.all([
    world.post(one, '/auth/douyin/phone', { code: sandbox.phoneCode('o-phone') }, sessions[0].skey),
    world.post(other, '/auth/douyin/phone', { code: sandbox.phoneCode('o-phone-2') }, sessions[1].skey)
  ])
  t.same(replies.map((reply) => reply.statusCode), [200, 200])
  t.equal(sandbox.calls('client_token') - tokens, 1, 'one client_token for two instances')
  const stored = await world.redis.get(`${prefix}douyin:token:${APP_ID}`)
  t.ok(stored && !sandbox.secrets().some((secret) => stored.includes(secret)), 'kept in Redis sealed with the app\'s keys, not in clear')
})

test('faults of both endpoints, and what the operator must fix', async (t) => {
  const { skey } = await world.login(app, user)
  const phone = () => world.post(app, '/auth/douyin/phone', { code: sandbox.phoneCode('o-phone') }, skey)
  const table: Array<[string, 'client_token' | 'get_phonenumber_info', Parameters<typeof sandbox.fail>[1], number, string]> = [
    ['a timeout', 'get_phonenumber_info', { delayMs: 2500 }, 504, 'MPA_UPSTREAM_TIMEOUT'],
    ['HTTP 500', 'get_phonenumber_info', { httpStatus: 500 }, 502, 'MPA_UPSTREAM_ERROR'],
    ['not JSON', 'get_phonenumber_info', { malformed: true }, 502, 'MPA_UPSTREAM_ERROR'],
    ['an err_no of its own', 'get_phonenumber_info', { errNo: 28001016 }, 502, 'MPA_UPSTREAM_ERROR']
  ]
  for (const [what, endpoint, fault, statusCode, code] of table) {
    sandbox.fail(endpoint, fault)
    t.match((await phone()).json, { statusCode, code }, what)
  }
  const fresh = () => world.build({ douyin: douyin(), keyPrefix: world.subPrefix() })
  const other = await fresh()
  const session = await world.login(other, user)
  sandbox.fail('client_token', { httpStatus: 502 })
  t.match((await world.post(other, '/auth/douyin/phone', { code: sandbox.phoneCode('o-phone') }, session.skey)).json, { statusCode: 502, code: 'MPA_UPSTREAM_ERROR' }, 'client_token failing')
  sandbox.fail('client_token', { errNo: 10020 })
  t.match((await world.post(other, '/auth/douyin/phone', { code: sandbox.phoneCode('o-phone') }, session.skey)).json, { statusCode: 429, code: 'MPA_UPSTREAM_RATE_LIMITED', message: /client_token\/ 10020: too many requests/ }, 'client_token throttled (10020)')
  sandbox.fail('client_token', { errNo: 2190002, errTips: '' })
  t.match((await world.post(other, '/auth/douyin/phone', { code: sandbox.phoneCode('o-phone') }, session.skey)).json, { statusCode: 502, code: 'MPA_UPSTREAM_ERROR', message: /client_token\/ 2190002$/ }, 'an error_code of its own, without a description')
  sandbox.fail('client_token', { malformed: true })
  t.match((await world.post(other, '/auth/douyin/phone', { code: sandbox.phoneCode('o-phone') }, session.skey)).json, { statusCode: 502, code: 'MPA_UPSTREAM_ERROR' }, 'client_token not JSON')

  const wrongSecret = await world.build({ douyin: douyin({ appSecret: 'not-the-secret' }), keyPrefix: world.subPrefix() })
  const { skey: wrongSkey } = await wrongSecret.sessions.create({ provider: 'douyin', appId: APP_ID, openId: 'o-phone' }, { user: { id: 'x' } })
  t.match((await world.post(wrongSecret, '/auth/douyin/phone', { code: sandbox.phoneCode('o-phone') }, wrongSkey)).json, { statusCode: 500, code: 'MPA_MISCONFIGURED' }, 'client_token refuses the secret (10013)')
  t.match(world.logs.text, 'Douyin refused app tt00000000000000a1: client_key (appId) or client_secret (appSecret) is wrong')

  const wrongKey = await world.build({ douyin: douyin({ phonePrivateKey: strangerKeys.privateKey }), keyPrefix: world.subPrefix() })
  const { skey: keySkey } = await wrongKey.sessions.create({ provider: 'douyin', appId: APP_ID, openId: 'o-phone' }, { user: { id: 'x' } })
  t.match((await world.post(wrongKey, '/auth/douyin/phone', { code: sandbox.phoneCode('o-phone') }, keySkey)).json, { statusCode: 500, code: 'MPA_MISCONFIGURED' }, 'a key pair the console does not have')
  t.match(world.logs.text, 'does not open with douyin.phonePrivateKey: set the matching public key')

  const noKey = await world.build({ douyin: [world.app(APP_ID), world.app(OTHER_APP_ID)], keyPrefix: world.subPrefix() })
  const { skey: noKeySkey } = await noKey.sessions.create({ provider: 'douyin', appId: APP_ID, openId: 'o-phone' }, { user: { id: 'x' } })
  t.match((await world.post(noKey, '/auth/douyin/phone', { code: 'any' }, noKeySkey)).json, { statusCode: 500, code: 'MPA_MISCONFIGURED' }, 'an app without phonePrivateKey')
  t.match(world.logs.text, 'which has no phonePrivateKey: set douyin.phonePrivateKey')
  // Those apps had Redis prefixes of their own, as separate deployments do: each fetched a client_token, which ended this app's.
  t.equal((await phone()).statusCode, 200, 'no fault left over, and the ended client_token replaced')
  t.match(world.logs.text, 'Douyin refused the client_token: fetching another')
})

test('data for another app, or with no number: refused', async (t) => {
  const answers: object[] = []
  const server = createServer((request, response) => {
    if (request.url?.startsWith('/oauth/')) return response.end(JSON.stringify({ data: { access_token: 'clt.fake', expires_in: 7200, error_code: 0 } }))
    response.end(JSON.stringify({ err_no: 0, data: publicEncrypt({ key: keys.publicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(JSON.stringify(answers.shift()))).toString('base64') }))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const odd = await world.build({ douyin: douyin({ openApiBaseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }), keyPrefix: world.subPrefix() })
  const { skey } = await odd.sessions.create({ provider: 'douyin', appId: APP_ID, openId: 'o-phone' }, { user: { id: 'x' } })
  answers.push({ phoneNumber: '1', purePhoneNumber: '1', countryCode: '86', watermark: { appid: OTHER_APP_ID } }, { watermark: { appid: APP_ID } })
  t.match((await world.post(odd, '/auth/douyin/phone', { code: 'c1' }, skey)).json, { statusCode: 403, code: 'MPA_WATERMARK_MISMATCH' })
  t.match((await world.post(odd, '/auth/douyin/phone', { code: 'c2' }, skey)).json, { statusCode: 502, code: 'MPA_UPSTREAM_ERROR', message: /without a phone number/ })
})

test('the phonePrivateKey and openApiBaseUrl options', async (t) => {
  await t.rejects(world.build({ douyin: douyin({ phonePrivateKey: 'not a key' }) }), { message: /^douyin\.phonePrivateKey must be the app's RSA private key/ })
  await t.rejects(world.build({ douyin: douyin({ phonePrivateKey: 42 as never }) }), { message: /^douyin\.phonePrivateKey must be/ })
  await t.rejects(world.build({ douyin: douyin({ openApiBaseUrl: 'ftp://x' }) }), { message: /^douyin\.openApiBaseUrl must be an http\(s\) URL/ })
})

test('no private key, client_token, app secret, session_key or skey in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})
