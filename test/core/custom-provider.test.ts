import tap, { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { AlipayAppOptions, Identity, LoginRateLimitOptions } from '../../index.js'
import smsLogin from '../../examples/sms-provider/plugin.js'
import { createAlipaySandbox, generateRsaKeyPair } from '../../sandbox/index.js'
import { privateKeyTexts } from '../helpers/secrets.js'
import { World } from '../helpers/world.js'

// The SMS-code provider of examples/sms-provider, as docs/custom-provider.md
// wires it: an app's own login on the library's flow, sessions, rate limit
// and error contract, against the real Redis.

const world = new World(tap, 'custom-provider')
/** Every text the simulated SMS vendor was asked to send. */
const outbox: Array<{ phone: string, code: string }> = []
// A code alone is six digits that a timestamp may hold, so it is watched as a
// JSON string value (a logged or echoed field), besides the login code the flow claims.
world.watch(() => outbox.flatMap(({ phone, code }) => [`${phone}:${code}`, `"${code}"`]))

interface Setup {
  rateLimit?: LoginRateLimitOptions | false
  seen?: Identity[]
  keyPrefix?: string
  /** The library's Alipay login beside the app's own. */
  alipay?: AlipayAppOptions
}

async function build ({ rateLimit = false, seen, keyPrefix = world.subPrefix('sms'), alipay }: Setup = {}): Promise<FastifyInstance> {
  return world.build({
    keyPrefix,
    rateLimit,
    ...(alipay ? { alipay } : {}),
    resolveUser: (identity) => {
      seen?.push(identity)
      return { id: `${identity.provider}:${identity.openId}` }
    }
  }, (app) => {
    app.register(smsLogin, {
      prefix: '/auth',
      redis: world.redis,
      keyPrefix,
      rateLimit,
      send: async (phone, code) => { outbox.push({ phone, code }) }
    })
  })
}

/** POST /auth/sms/code, and the code the phone received. */
async function sendCode (app: FastifyInstance, phone: string): Promise<string> {
  const res = await world.post(app, '/auth/sms/code', { phone })
  if (res.statusCode !== 204) throw new Error(`sending failed: ${res.body}`)
  const sent = outbox.findLast((text) => text.phone === phone)
  if (!sent) throw new Error('no SMS was sent')
  return sent.code
}

const login = (app: FastifyInstance, phone: string, code: string) => world.post(app, '/auth/sms/login', { phone, code })
/** Another six digits than `code`. */
const offBy = (code: string, n: number): string => String((Number(code) + n) % 1_000_000).padStart(6, '0')

const app = await build()

test('an SMS code logs in like any provider: resolveUser, a session, authenticate, logout', async (t) => {
  const seen: Identity[] = []
  const own = await build({ seen })
  const phone = '+8613800138000'
  const res = await login(own, phone, await sendCode(own, phone))
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json, { skey: /^[A-Za-z0-9_-]{43}$/, expiresAt: Number, user: { id: `sms:${phone}` } })
  t.same(seen, [{ provider: 'sms', appId: 'default', openId: phone }], 'resolveUser sees the app\'s own provider')

  const me = await world.call(own, 'GET', '/me', undefined, res.json.skey)
  t.same(me.json.user, { id: `sms:${phone}` })
  t.match(me.json.session, { provider: 'sms', appId: 'default', openId: phone })
  const session = await world.call(own, 'GET', '/auth/session', undefined, res.json.skey)
  t.equal(session.statusCode, 200, session.body)
  t.match(session.json.session, { provider: 'sms', openId: phone }, 'the session routes show it')

  t.equal((await world.call(own, 'DELETE', '/auth/session', undefined, res.json.skey)).statusCode, 204)
  const after = await world.call(own, 'GET', '/me', undefined, res.json.skey)
  t.equal(after.statusCode, 401)
  t.equal(after.json.code, 'MPA_SESSION_REVOKED')
})

test('a replayed code: the same answer within the window, refused once logged out', async (t) => {
  const phone = '+8613800138001'
  const code = await sendCode(app, phone)
  const first = await login(app, phone, code)
  t.equal(first.statusCode, 200, first.body)
  const again = await login(app, phone, code)
  t.equal(again.statusCode, 200, again.body)
  t.equal(again.json.skey, first.json.skey, 'a lost reply is answered again, no second session')
  t.equal((await world.call(app, 'DELETE', '/auth/session', undefined, first.json.skey)).statusCode, 204)
  const replay = await login(app, phone, code)
  t.equal(replay.statusCode, 401, replay.body)
  t.equal(replay.json.code, 'MPA_CODE_INVALID')
})

test('a wrong code is a 401 MPA_CODE_INVALID in the library\'s error shape; enough of them burn the code', async (t) => {
  const phone = '+8613800138002'
  const code = await sendCode(app, phone)
  const wrong = await login(app, phone, offBy(code, 1))
  t.equal(wrong.statusCode, 401, wrong.body)
  t.match(wrong.json, { statusCode: 401, code: 'MPA_CODE_INVALID', error: 'Unauthorized', message: /wrong or expired SMS code/ })
  t.equal((await login(app, '+8613800138003', code)).json.code, 'MPA_CODE_INVALID', 'a code is good for its phone only')
  // Five wrong codes in all, each a different one: a repeated one is answered from its claim, not counted again.
  for (let n = 2; n <= 5; n++) t.equal((await login(app, phone, offBy(code, n))).json.code, 'MPA_CODE_INVALID')
  const burnt = await login(app, phone, code)
  t.equal(burnt.statusCode, 401, 'the right code no longer works')
  const fresh = await login(app, phone, await sendCode(app, phone))
  t.equal(fresh.statusCode, 200, `a new code does: ${fresh.body}`)
})

test('bodies are validated as sent: 400 FST_ERR_VALIDATION', async (t) => {
  for (const body of [{}, { phone: '13800138000' }, { phone: '+8613800138000', code: 123456 }, { phone: '+8613800138000', code: '12345' }, { phone: '+8613800138000', code: '123456', appId: 'x' }]) {
    const res = await world.post(app, '/auth/sms/login', body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.equal(res.json.code, 'FST_ERR_VALIDATION')
  }
})

test('the login rate limit applies, one window per client across the app\'s routes and the library\'s', async (t) => {
  const appKeys = generateRsaKeyPair()
  const alipay = await createAlipaySandbox({ apps: [{ appId: '2021000000000001', publicKey: appKeys.publicKey }] })
  t.teardown(() => alipay.close())
  world.watch(() => [...alipay.secrets(), ...privateKeyTexts(appKeys.privateKey)])
  const limited = await build({
    rateLimit: { max: 4, timeWindow: '1m' },
    alipay: { appId: '2021000000000001', privateKey: appKeys.privateKey, alipayPublicKey: alipay.publicKey, gateway: alipay.url }
  })
  const phone = '+8613800138004'
  const code = await sendCode(limited, phone)
  t.equal((await world.post(limited, '/auth/alipay/login', { authCode: alipay.issueAuthCode() })).statusCode, 200, 'the library\'s login counts')
  t.equal((await login(limited, phone, offBy(code, 1))).statusCode, 401)
  t.equal((await login(limited, phone, code)).statusCode, 200)
  const over = await login(limited, phone, code)
  t.equal(over.statusCode, 429, over.body)
  t.match(over.json, { statusCode: 429, code: 'MPA_RATE_LIMITED', error: 'Too Many Requests' })
  t.equal((await world.post(limited, '/auth/sms/code', { phone })).statusCode, 429, 'sending codes counts too')
  t.equal((await world.post(limited, '/auth/alipay/login', { authCode: alipay.issueAuthCode() })).statusCode, 429, 'and the library\'s login is limited by them')
})

test('the codes leave no Redis key behind once used, and only their hash is kept', async (t) => {
  const keyPrefix = world.subPrefix('sms')
  const own = await build({ keyPrefix })
  const phone = '+8613800138005'
  const code = await sendCode(own, phone)
  const stored = await world.redis.get(`${keyPrefix}sms:code:${phone}`)
  t.match(stored, /^[A-Za-z0-9_-]{43}$/, 'a sha256 is stored')
  t.not(stored, code, 'not the code')
  t.equal((await login(own, phone, code)).statusCode, 200)
  t.equal(await world.redis.exists(`${keyPrefix}sms:code:${phone}`), 0, 'a used code is gone')
})

test('the whole file: no login code in any reply or log line, no skey in any log line', async (t) => {
  world.assertNoSecrets(t)
})
