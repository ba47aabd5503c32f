import tap, { test } from 'tap'
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { AlipayAppOptions } from '../../index.js'
import { createAlipaySandbox, generateRsaKeyPair, type AlipayPhoneOptions, type AlipaySandboxUser } from '../../sandbox/index.js'
import { AlipayWorld, makeCertificates } from '../helpers/alipay.js'
import type { Reply } from '../helpers/world.js'

// POST /auth/alipay/phone through the real route, the real session store on
// Redis, and payloads the sandbox makes as Alipay does (signed with its key,
// encrypted with the AES key it was told the app has).

const APP_ID = '2021000000000001'
// Registered with the sandbox without an AES key: Alipay then refuses in clear.
const CLEAR_APP_ID = '2021000000000002'
const aesKey = randomBytes(16).toString('base64')
const otherAesKey = randomBytes(16).toString('base64')
const sandboxKeys = generateRsaKeyPair()
const appKeys = generateRsaKeyPair()

const world = await AlipayWorld.create(tap, 'alipay-phone', {
  keyPair: sandboxKeys,
  apps: [
    { appId: APP_ID, publicKey: appKeys.publicKey, aesKey },
    { appId: CLEAR_APP_ID, publicKey: appKeys.publicKey }
  ]
})
const { sandbox } = world
world.privateKey(appKeys.privateKey)
world.watch(() => [aesKey, otherAesKey])

const appOptions = (extra: Partial<AlipayAppOptions> = {}): AlipayAppOptions => ({
  appId: APP_ID, privateKey: appKeys.privateKey, alipayPublicKey: sandbox.publicKey, gateway: sandbox.url, aesKey, ...extra
})

const build = (alipay: AlipayAppOptions | AlipayAppOptions[] = appOptions()): Promise<FastifyInstance> =>
  world.build({ keyPrefix: world.subPrefix('phone'), rateLimit: false, alipay })

/** A session of the app's first Alipay app, through the real login. */
async function loginOf (app: FastifyInstance, user: AlipaySandboxUser = {}, appId?: string): Promise<string> {
  const res = await world.post(app, '/auth/alipay/login', { authCode: sandbox.issueAuthCode(user, appId), ...(appId ? { appId } : {}) })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.body}`)
  return res.json.skey
}

const phone = (app: FastifyInstance, skey: string | undefined, body: object): Promise<Reply> => world.post(app, '/auth/alipay/phone', body, skey)
const payload = (user: AlipaySandboxUser = {}, options: AlipayPhoneOptions = {}): { response: string } => ({ response: sandbox.phonePayload(user, options) })

const app = await build()
const skey = await loginOf(app)

test('a payload Alipay signed and encrypted for the app gives the number', async (t) => {
  const res = await phone(app, skey, payload({ mobile: '13800138000' }))
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json, { mobile: '13800138000' })

  const envelope = JSON.parse(sandbox.phonePayload({ mobile: '13912345678' }))
  t.match(envelope, { response: /^[A-Za-z0-9+/]+=*$/, sign: String, sign_type: 'RSA2', encrypt_type: 'AES', charset: 'UTF-8' }, 'the payload has the documented shape')
  t.notMatch(envelope.response, /1391234/, 'the number travels encrypted')
  t.same((await phone(app, skey, { response: JSON.stringify(envelope) })).json, { mobile: '13912345678' })
  // Older clients pass only response and sign: the documented defaults apply.
  const bare = JSON.stringify({ response: envelope.response, sign: envelope.sign })
  t.same((await phone(app, skey, { response: bare })).json, { mobile: '13912345678' })
  t.notOk(world.logs.text.includes('13800138000'), 'the number is in no log line')
})

test('the session\'s app opens the payload: each app its own AES key', async (t) => {
  const SECOND = '2021000000000003'
  sandbox.registerApp({ appId: SECOND, publicKey: appKeys.publicKey, aesKey: otherAesKey })
  const both = await build([appOptions(), appOptions({ appId: SECOND, aesKey: otherAesKey })])
  const second = await loginOf(both, {}, SECOND)
  const res = await phone(both, second, payload({ mobile: '13700000000' }, { appId: SECOND }))
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json, { mobile: '13700000000' })
  // Both apps have the sandbox's Alipay key: the first app's payload verifies, and is the client's mistake, not a wrong aesKey.
  const crossed = await phone(both, second, payload({ mobile: '13700000000' }, { appId: APP_ID }))
  t.equal(crossed.statusCode, 400, crossed.body)
  t.match(crossed.json, { code: 'MPA_BAD_ENCRYPTED_DATA', message: /another app of this server/ })
})

test('certificate mode: the payload is checked with the key alipayPublicCert certifies', async (t) => {
  const certs = makeCertificates(sandboxKeys.privateKey, appKeys.privateKey)
  const certSandbox = await createAlipaySandbox({
    keyPair: sandboxKeys,
    certificates: { alipayPublicCert: certs.alipayPublicCert, alipayRootCert: certs.rootBundle },
    apps: [{ appId: APP_ID, appCertContent: certs.appCert, aesKey }]
  })
  t.teardown(() => certSandbox.close())
  world.watch(() => certSandbox.secrets())
  const certApp = await build({
    appId: APP_ID,
    privateKey: appKeys.privateKey,
    gateway: certSandbox.url,
    aesKey,
    appCertContent: certs.appCert,
    alipayPublicCertContent: certs.alipayPublicCert,
    alipayRootCertContent: certs.rootBundle
  })
  const login = await world.post(certApp, '/auth/alipay/login', { authCode: certSandbox.issueAuthCode() })
  const res = await phone(certApp, login.json.skey, { response: certSandbox.phonePayload({ mobile: '13600000000' }) })
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json, { mobile: '13600000000' })
})

test('what the client sends wrong is a 400 MPA_BAD_ENCRYPTED_DATA, and no 5xx', async (t) => {
  const good = JSON.parse(sandbox.phonePayload())
  const cases: Record<string, string> = {
    'not JSON': 'hello',
    'a JSON array': '[]',
    'no response field': JSON.stringify({ sign: good.sign }),
    'a response that is not a string': JSON.stringify({ ...good, response: { code: '10000' } }),
    'a tampered ciphertext': sandbox.phonePayload({}, { tampered: true }),
    'no signature': sandbox.phonePayload({}, { unsigned: true }),
    'a signature of another payload': JSON.stringify({ ...good, sign: JSON.parse(sandbox.phonePayload()).sign }),
    'a signature that is not base64': JSON.stringify({ ...good, sign: '!!!' }),
    'a + turned into a space': JSON.stringify({ ...good, response: `${good.response.slice(0, 10)} ${good.response.slice(11)}` }),
    'sign_type RSA (SHA1)': JSON.stringify({ ...good, sign_type: 'RSA' }),
    'another encrypt_type': JSON.stringify({ ...good, encrypt_type: 'SM4' }),
    'another charset': JSON.stringify({ ...good, charset: 'GBK' })
  }
  for (const [name, response] of Object.entries(cases)) {
    const res = await phone(app, skey, { response })
    t.equal(res.statusCode, 400, `${name}: ${res.body}`)
    t.equal(res.json.code, 'MPA_BAD_ENCRYPTED_DATA', name)
  }
  t.match((await phone(app, skey, { response: sandbox.phonePayload({}, { unsigned: true }) })).json.message, /no signature.*open platform/)
  t.match((await phone(app, skey, { response: cases['a + turned into a space'] as string })).json.message, /space/)
  // A payload the client forged from a clear node: its signature does not cover it.
  const forged = JSON.stringify({ ...good, response: '{"code":"10000","msg":"Success","mobile":"13000000000"}' })
  t.equal((await phone(app, skey, { response: forged })).json.code, 'MPA_BAD_ENCRYPTED_DATA')
})

test('the body schema: one string field, bounded, no coercion', async (t) => {
  const bodies: Record<string, unknown> = {
    empty: {},
    'an empty response': { response: '' },
    'a number': { response: 123 },
    'the envelope as an object': JSON.parse(sandbox.phonePayload()),
    'an extra field': { response: sandbox.phonePayload(), appId: APP_ID },
    'over 4096 characters': { response: 'x'.repeat(4097) }
  }
  for (const [name, body] of Object.entries(bodies)) {
    const res = await phone(app, skey, body as object)
    t.equal(res.statusCode, 400, `${name}: ${res.body}`)
    t.equal(res.json.code, 'FST_ERR_VALIDATION', name)
  }
})

test('no session is a 401; a session of another provider a 403', async (t) => {
  t.equal((await phone(app, undefined, payload())).json.code, 'MPA_SKEY_MISSING')
  t.equal((await phone(app, 'A'.repeat(43), payload())).json.code, 'MPA_SESSION_EXPIRED')
  const { skey: wechat } = await app.sessions.create({ provider: 'wechat', appId: 'wx0000000000000000', openId: 'o-wechat' }, { user: { id: 'wechat-user' } })
  const res = await phone(app, wechat, payload())
  t.equal(res.statusCode, 403, res.body)
  t.equal(res.json.code, 'MPA_WRONG_PROVIDER')
})

test('Alipay gave no number: 403 MPA_PHONE_REFUSED, and what to do', async (t) => {
  const refused = await phone(app, skey, payload({}, { subCode: 'isv.invalid-auth-relations' }))
  t.equal(refused.statusCode, 403, refused.body)
  t.match(refused.json, { code: 'MPA_PHONE_REFUSED', message: /not authorized.*getAuthorize/ })
  const none = await phone(app, skey, payload({ mobile: '' }))
  t.equal(none.statusCode, 403, none.body)
  t.match(none.json, { code: 'MPA_PHONE_REFUSED', message: /no phone number bound/ })
})

test('Alipay busy, or an error node we do not know: 502 MPA_UPSTREAM_ERROR', async (t) => {
  for (const subCode of ['aop.unknow-error', 'isv.something-new']) {
    const res = await phone(app, skey, payload({}, { subCode }))
    t.equal(res.statusCode, 502, res.body)
    t.match(res.json, { code: 'MPA_UPSTREAM_ERROR', message: new RegExp(subCode.replace('.', '\\.')) })
  }
})

test('what the operator must fix is a 500 MPA_MISCONFIGURED, the fix in the log', async (t) => {
  const capture = world.capture()
  const misconfigured = (alipay: AlipayAppOptions) => world.build({ keyPrefix: world.subPrefix('phone'), rateLimit: false, logs: capture, alipay })

  // aesKey is another key than the one set on the platform: what verifies does not open.
  const wrongKeyApp = await misconfigured(appOptions({ aesKey: otherAesKey }))
  const noKeyApp = await misconfigured(appOptions({ aesKey: undefined }))
  const clearApp = await misconfigured(appOptions({ appId: CLEAR_APP_ID, aesKey: undefined }))
  // Configured right: the platform is at fault.
  const rightApp = await misconfigured(appOptions())
  const right = await loginOf(rightApp)
  const cases: Array<[string, FastifyInstance, string, { response: string }, RegExp]> = [
    ['a wrong aesKey', wrongKeyApp, await loginOf(wrongKeyApp), payload(), /aesKey of app \d+ cannot open a payload Alipay signed/],
    ['a payload under another key', rightApp, right, payload({}, { wrongKey: true }), /aesKey of app \d+ cannot open/],
    ['no aesKey configured', noKeyApp, await loginOf(noKeyApp), payload(), /no aesKey is set for app/],
    ['no AES key on the platform (a refusal in clear)', clearApp, await loginOf(clearApp, {}, CLEAR_APP_ID), payload({}, { appId: CLEAR_APP_ID }),
      /no AES key \(接口内容加密方式\) is set for this app on the Alipay open platform/],
    ['the product missing', rightApp, right, payload({}, { subCode: 'isv.insufficient-isv-permissions' }), /获取会员手机号/],
    ['AES key unusable', rightApp, right, payload({}, { subCode: 'isv.invalid-encrypt' }), /set the AES key .* again/],
    ['no signing method', rightApp, right, payload({}, { subCode: 'isv.missing-default-signature-type' }), /接口加签方式/]
  ]
  for (const [name, target, session, body, fix] of cases) {
    const before = capture.lines.length
    const res = await phone(target, session, body)
    t.equal(res.statusCode, 500, `${name}: ${res.body}`)
    t.match(res.json, { code: 'MPA_MISCONFIGURED', message: /the server log says what to fix/ }, name)
    const lines = capture.lines.slice(before).map((line) => JSON.parse(line))
    t.ok(lines.some((line) => line.level === 50 && fix.test(line.msg) && /^202100000000000[12]$/.test(line.alipay?.appId)), `${name}: the fix is logged at error`)
    t.notMatch(res.body, fix, `${name}: the fix is not in the reply`)
  }
})

test('aesKey is checked at register time, named, never echoed', async (t) => {
  const secretLooking = 'c2VjcmV0LWJ1dC13cm9uZy1sZW5ndGg='
  for (const bad of [secretLooking, 'not base64 at all!!', 12345, '']) {
    const err = await build(appOptions({ aesKey: bad as string })).then(() => undefined, (error: Error) => error)
    t.match(err?.message, /^alipay\.aesKey must be the app's AES key/, JSON.stringify(bad))
    t.notOk(err?.message.includes(String(bad)) && bad !== '', 'the value is not echoed')
  }
  const many = await build([appOptions(), appOptions({ appId: '2021000000000009', aesKey: 'short' })]).then(() => undefined, (error: Error) => error)
  t.match(many?.message, /^alipay\[1\]\.aesKey/)
})

test('the whole file: no AES key, token, private key in any reply or log line, no skey in any log line', async (t) => {
  world.assertNoSecrets(t)
})
