import tap, { test } from 'tap'
import { createPrivateKey, generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { AlipayAppOptions, Identity } from '../../index.js'
import { bareBase64, createAlipaySandbox, generateRsaKeyPair, OAUTH_TOKEN, USER_INFO_SHARE, type AlipaySandbox } from '../../sandbox/index.js'
import type { LogCapture } from '../helpers/app.js'
import { AlipayWorld, makeCertificates } from '../helpers/alipay.js'
import { deleteKeys } from '../helpers/redis.js'

const APP_ID = '2021000000000001'
const USER_APP_ID = '2021000000000002'

// Key generation is slow-ish: one set per file. The app key is exported below
// in every shape a user may hold it in.
const sandboxKeys = generateRsaKeyPair()
const appKeys = generateRsaKeyPair({ format: 'pkcs1' })
const strangerKeys = generateRsaKeyPair()
const appKeyObject = createPrivateKey(appKeys.privateKey)
const pkcs8Pem = appKeyObject.export({ type: 'pkcs8', format: 'pem' }).toString()
const privateKeyMarks = [bareBase64(appKeys.privateKey).slice(40, 80), bareBase64(pkcs8Pem).slice(40, 80)]

const world = await AlipayWorld.create(tap, 'alipay', {
  keyPair: sandboxKeys,
  apps: [
    { appId: APP_ID, publicKey: appKeys.publicKey, identityMode: 'open_id' },
    { appId: USER_APP_ID, publicKey: appKeys.publicKey, identityMode: 'user_id' }
  ]
})
const { sandbox, redis } = world
// The app private keys this file hands its apps: the leak check looks for them.
world.privateKey(appKeys.privateKey)
world.privateKey(strangerKeys.privateKey)

const keyMode = (extra: Partial<AlipayAppOptions> = {}): AlipayAppOptions => ({
  appId: APP_ID, privateKey: appKeys.privateKey, alipayPublicKey: sandbox.publicKey, gateway: sandbox.url, ...extra
})

interface Setup {
  apps?: AlipayAppOptions | AlipayAppOptions[]
  logs?: LogCapture
  keyPrefix?: string
  seen?: Identity[]
}

/** An app of the world on keys of its own (a prefix under the world's), unless `keyPrefix` says otherwise. */
async function appFor (setup: Setup = {}): Promise<FastifyInstance> {
  return world.build({
    keyPrefix: setup.keyPrefix ?? world.subPrefix('alipay'),
    ...(setup.logs ? { logs: setup.logs } : {}),
    resolveUser: (identity) => {
      setup.seen?.push(identity)
      return { id: `alipay:${identity.appId}:${identity.openId ?? identity.alipayUserId}` }
    },
    alipay: setup.apps ?? keyMode()
  })
}

const login = (app: FastifyInstance, payload: Record<string, unknown>) => world.login(app, payload)

test('login, then an authenticated request, via the real alipay-sdk', async (t) => {
  const seen: Identity[] = []
  const app = await appFor({ seen })
  const res = await login(app, { authCode: sandbox.issueAuthCode({ openId: 'open-1', unionId: 'union-1' }) })
  t.equal(res.statusCode, 200, res.body)
  const body = res.json()
  t.match(body, { skey: /^[A-Za-z0-9_-]{43}$/, expiresAt: Number, user: { id: `alipay:${APP_ID}:open-1` } })
  t.notOk('profile' in body, 'auth_base replies carry no profile field')
  t.same(seen, [{ provider: 'alipay', surface: 'miniprogram', appId: APP_ID, openId: 'open-1', unionId: 'union-1' }])

  const me = await app.inject({ url: '/me', headers: { 'x-skey': body.skey } })
  t.same(me.json().user, { id: `alipay:${APP_ID}:open-1` })
  t.notMatch(me.body, /authusrB/, 'request.session serialises without the Alipay tokens')
  const session = await app.sessions.get(body.skey)
  t.match(session?.secrets, { accessToken: /^authusrB/, refreshToken: /^authusrB/ }, 'the tokens stay server-side')
  t.equal(session?.openId, 'open-1')
  // The stored token is live: Alipay knows it, and refuses only its auth_base scope.
  await t.rejects(app.alipay.getUserInfo(session?.secrets.accessToken as string), { code: 'MPA_CODE_INVALID', message: /insufficient-user-permissions/ })
})

test('private keys: PKCS1 and PKCS8, PEM and bare, string and Buffer, mislabelled', async (t) => {
  const forms: Record<string, string | Buffer> = {
    'PKCS1 PEM': appKeys.privateKey,
    'PKCS8 PEM': pkcs8Pem,
    'PKCS1 bare': bareBase64(appKeys.privateKey),
    'PKCS8 bare': bareBase64(pkcs8Pem),
    'PKCS8 PEM Buffer': Buffer.from(pkcs8Pem),
    'PKCS8 body under a PKCS1 label': pkcs8Pem.replaceAll('PRIVATE KEY', 'RSA PRIVATE KEY'),
    'CRLF line ends': pkcs8Pem.replaceAll('\n', '\r\n')
  }
  for (const [name, privateKey] of Object.entries(forms)) {
    const app = await appFor({ apps: keyMode({ privateKey, alipayPublicKey: bareBase64(sandbox.publicKey) }) })
    const res = await login(app, { authCode: sandbox.issueAuthCode({ openId: 'open-k' }) })
    t.equal(res.statusCode, 200, name)
  }
})

test('options are validated at register time, naming the option', async (t) => {
  const register = async (apps: unknown) => {
    const app = await appFor({ apps: apps as AlipayAppOptions }).catch((err: Error) => err)
    t.type(app, Error)
    return (app as Error).message
  }
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()

  t.match(await register(keyMode({ alipayPublicKey: undefined })), /^alipay\.alipayPublicKey is required .*always verified/)
  const garbage = await register(keyMode({ privateKey: 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ' }))
  t.match(garbage, /^alipay\.privateKey is not a readable private key/)
  t.notMatch(garbage, /DECODER|MIIEvQ/, 'no OpenSSL jargon, no key material')
  t.match(await register(keyMode({ privateKey: 42 as unknown as string })), /alipay\.privateKey must be a string or a Buffer/)
  t.match(await register(keyMode({ privateKey: ec })), /alipay\.privateKey must be an RSA key of 2048 bits or more .*got ec/)
  t.match(await register(keyMode({ privateKey: small })), /got rsa 1024/)
  t.match(await register([keyMode(), keyMode({ appId: '2021000000000002', alipayPublicKey: appKeys.publicKey })]), /^alipay\[1\]\.alipayPublicKey is your app public key/)
  t.match(await register(keyMode({ alipayPublicKey: 'not a key' })), /alipay\.alipayPublicKey is not a readable RSA public key/)
  t.match(await register(keyMode({ gateway: 'openapi.alipay.com' })), /alipay\.gateway must be an http\(s\) URL/)
  t.match(await register(keyMode({ timeout: -1 })), /alipay\.timeout must be a positive number of seconds/)
  t.match(await register(keyMode({ appId: '' })), /alipay\.appId must be/)
  t.match(await register([keyMode(), keyMode()]), /alipay\[1\]\.appId 2021000000000001 is configured twice/)
  t.match(await register([]), /^alipay must be an app's options or a non-empty array of them/)
  t.match(await register(keyMode({ privateKey: '-----BEGIN ENCRYPTED PRIVATE KEY-----\nabc\n-----END ENCRYPTED PRIVATE KEY-----' })), /is encrypted/)
  t.match(await register(keyMode({ alipayPublicKey: undefined, appCertContent: 'x' })), /certificate mode needs appCertContent, alipayRootCertContent and alipayPublicCertContent/)
  t.match(await register(keyMode({ appCertContent: 'x', alipayRootCertContent: 'x', alipayPublicCertContent: 'x' })), /not both/)
  t.match(await register(keyMode({ alipayPublicKey: undefined, appCertPath: '/nonexistent/app.crt', alipayRootCertContent: 'x', alipayPublicCertContent: 'x' })),
    /alipay\.appCertPath: cannot read \/nonexistent\/app\.crt \(ENOENT\)/)
  t.match(await register(keyMode({ alipayPublicKey: undefined, appCertContent: 'x', alipayRootCertContent: 'x', alipayPublicCertContent: 'x' })),
    /alipay\.appCertContent is not a PEM certificate/)
})

test('a mis-paired private key: a clear 500 for the operator', async (t) => {
  const logs = world.capture()
  const app = await appFor({ apps: keyMode({ privateKey: strangerKeys.privateKey }), logs })
  const res = await login(app, { authCode: sandbox.issueAuthCode({}) })
  t.equal(res.statusCode, 500)
  t.match(res.json(), { code: 'MPA_MISCONFIGURED', message: /Alipay refused app 2021000000000001 \(isv\.invalid-signature\); the server log says what to fix/ })
  t.notMatch(res.body, /privateKey|public key/, 'the fix is for the operator, not the client')
  t.notMatch(res.body, /app_id=|code=/, 'Alipay\'s sub_msg, which quotes the signed string, is not echoed')
  t.match(logs.text, /"level":50.*privateKey does not match the app public key .* Alipay open platform/, 'the log says what to fix, loudly')
  t.match(logs.text, /"level":50.*MPA_MISCONFIGURED/, 'and the 500 is logged')
})

test('certificate mode, from contents and from paths', async (t) => {
  const certs = makeCertificates(sandboxKeys.privateKey, appKeys.privateKey)
  const certSandbox = await createAlipaySandbox({
    keyPair: sandboxKeys,
    certificates: { alipayPublicCert: certs.alipayPublicCert, alipayRootCert: certs.rootBundle },
    apps: [{ appId: APP_ID, appCertContent: certs.appCert, identityMode: 'both' }]
  })
  t.teardown(() => certSandbox.close())
  world.watch(() => certSandbox.secrets())
  const dir = mkdtempSync(join(tmpdir(), 'mpa-alipay-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const paths = Object.fromEntries(Object.entries({ app: certs.appCert, root: certs.rootBundle, alipay: certs.alipayPublicCert }).map(([name, pem]) => {
    writeFileSync(join(dir, `${name}.crt`), pem)
    return [name, join(dir, `${name}.crt`)]
  }))
  const base = { appId: APP_ID, privateKey: appKeys.privateKey, gateway: certSandbox.url }
  const setups: Record<string, AlipayAppOptions> = {
    contents: { ...base, appCertContent: certs.appCert, alipayRootCertContent: Buffer.from(certs.rootBundle), alipayPublicCertContent: certs.alipayPublicCert },
    paths: { ...base, appCertPath: paths.app, alipayRootCertPath: paths.root, alipayPublicCertPath: paths.alipay }
  }
  for (const [name, apps] of Object.entries(setups)) {
    const seen: Identity[] = []
    const app = await appFor({ apps, seen })
    const res = await login(app, { authCode: certSandbox.issueAuthCode({ openId: 'open-c', userId: '2088000000000009' }) })
    t.equal(res.statusCode, 200, name)
    t.match(seen[0], { openId: 'open-c', alipayUserId: '2088000000000009' }, `${name}: both ids kept`)
    t.equal(res.json().user.id, `alipay:${APP_ID}:open-c`, `${name}: keyed on open_id`)
  }

  const stale = await appFor({ apps: { ...setups.contents as AlipayAppOptions, appCertContent: certs.otherAppCert } })
  const refused = await login(stale, { authCode: certSandbox.issueAuthCode({}) })
  t.equal(refused.statusCode, 500)
  t.match(refused.json(), { code: 'MPA_MISCONFIGURED', message: /isv\.invalid-app-cert-sn/ })

  const wrongKey = await appFor({ apps: { ...setups.contents as AlipayAppOptions, privateKey: strangerKeys.privateKey } }).catch((err: Error) => err)
  t.match(wrongKey, { message: /alipay\.appCertContent does not certify the public key of alipay\.privateKey/ })
})

test('upstream failures map to stable codes', async (t) => {
  const app = await appFor({ apps: keyMode({ timeout: '200ms' }) })
  const cases: Array<[string, Parameters<AlipaySandbox['fail']>[1], number, string, RegExp?]> = [
    ['tampered response', { badSignature: true }, 502, 'MPA_UPSTREAM_BAD_SIGNATURE'],
    ['unsigned response', { missingSignature: true }, 502, 'MPA_UPSTREAM_BAD_SIGNATURE', /no signature/],
    ['signed error_response: code invalid', { subCode: 'isv.code-invalid' }, 401, 'MPA_CODE_INVALID', /isv\.code-invalid/],
    ['signed error_response: refresh token', { subCode: 'isv.refresh-token-time-out' }, 401, 'MPA_CODE_INVALID'],
    ['signed error_response: isp', { subCode: 'isp.unknow-error' }, 502, 'MPA_UPSTREAM_ERROR', /isp\.unknow-error/],
    ['signed error_response: rate limit', { subCode: 'isv.app-call-limited' }, 429, 'MPA_UPSTREAM_RATE_LIMITED'],
    ['signed error_response: method limit', { subCode: 'isv.method-call-limited' }, 429, 'MPA_UPSTREAM_RATE_LIMITED'],
    ['signed error_response: other app', { subCode: 'isv.unmatched-app-id' }, 500, 'MPA_MISCONFIGURED', /isv\.unmatched-app-id/],
    ['signed error_response: unknown app', { subCode: 'isv.invalid-app-id' }, 500, 'MPA_MISCONFIGURED', /isv\.invalid-app-id/],
    ['signed error_response: no public key uploaded', { subCode: 'isv.missing-signature-config' }, 500, 'MPA_MISCONFIGURED'],
    ['signed error_response: expired certificate', { subCode: 'isv.app-cert-expired' }, 500, 'MPA_MISCONFIGURED', /isv\.app-cert-expired/],
    ['unsigned error_response: a refusal, mapped (docs/alipay.md)', { subCode: 'isv.code-invalid', missingSignature: true }, 401, 'MPA_CODE_INVALID', /isv\.code-invalid/],
    ['tampered error_response', { subCode: 'isv.code-invalid', badSignature: true }, 502, 'MPA_UPSTREAM_BAD_SIGNATURE', /does not verify/],
    ['non-JSON body', { nonJson: true }, 502, 'MPA_UPSTREAM_ERROR', /other than JSON/],
    ['HTTP 503', { httpStatus: 503 }, 502, 'MPA_UPSTREAM_ERROR', /HTTP 503/],
    ['timeout', { delayMs: 1500 }, 504, 'MPA_UPSTREAM_TIMEOUT']
  ]
  for (const [name, fault, status, code, message] of cases) {
    sandbox.fail(OAUTH_TOKEN, fault)
    const res = await login(app, { authCode: sandbox.issueAuthCode({}) })
    t.equal(res.statusCode, status, name)
    t.match(res.json(), { code, ...(message ? { message } : {}) }, name)
  }

  const used = sandbox.issueAuthCode({})
  t.equal((await login(app, { authCode: used })).statusCode, 200)
  await deleteKeys(redis, `${app.sessions.keyPrefix}code:`) // past the replay window
  t.match((await login(app, { authCode: used })).json(), { statusCode: 401, code: 'MPA_CODE_INVALID' }, 'a used code, really asked again')

  t.match((await login(app, { authCode: 'x', appId: '2021009999999999' })).json(), { statusCode: 400, code: 'MPA_UNKNOWN_APP' })
  t.equal((await login(app, { authCode: '' })).statusCode, 400)
  t.equal((await login(app, { authCode: 'a'.repeat(129) })).statusCode, 400)
  t.equal((await login(app, { authCode: 'abc', scope: 'auth_all' })).statusCode, 400)

  const down = await appFor({ apps: keyMode({ gateway: 'http://127.0.0.1:9/gateway.do' }) })
  t.match((await login(down, { authCode: 'abc' })).json(), { statusCode: 502, message: /cannot reach the Alipay gateway \(ECONNREFUSED\)/ })
})

test('auth_user: the profile reaches resolveUser; without it the login still succeeds', async (t) => {
  const seen: Identity[] = []
  const app = await appFor({ seen })
  const profile = { nickName: '小红', avatar: 'https://tfs.alipayobjects.com/images/partner/a.png', gender: 'F' as const, province: '浙江省', city: '杭州市' }

  const ok = await login(app, { authCode: sandbox.issueAuthCode({ openId: 'open-p', scope: 'auth_user', profile }), scope: 'auth_user' })
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().profile, 'ok')
  t.same(seen.pop(), { provider: 'alipay', surface: 'miniprogram', appId: APP_ID, openId: 'open-p', profile })
  t.equal(sandbox.calls(USER_INFO_SHARE) > 0, true)

  sandbox.fail(USER_INFO_SHARE, { subCode: 'isp.unknow-error' })
  const failed = await login(app, { authCode: sandbox.issueAuthCode({ openId: 'open-q', scope: 'auth_user', profile }), scope: 'auth_user' })
  t.equal(failed.statusCode, 200)
  t.equal(failed.json().profile, 'unavailable')
  t.same(seen.pop(), { provider: 'alipay', surface: 'miniprogram', appId: APP_ID, openId: 'open-q' })
  t.ok(await app.inject({ url: '/me', headers: { 'x-skey': failed.json().skey } }).then((res) => res.statusCode === 200), 'the session works')

  const baseOnly = await login(app, { authCode: sandbox.issueAuthCode({ openId: 'open-b', scope: 'auth_base' }), scope: 'auth_user' })
  t.equal(baseOnly.json().profile, 'unavailable', 'an auth_base code cannot read the profile')

  const calls = sandbox.calls(USER_INFO_SHARE)
  await login(app, { authCode: sandbox.issueAuthCode({ openId: 'open-d', scope: 'auth_user', profile }) })
  t.equal(sandbox.calls(USER_INFO_SHARE), calls, 'auth_base logins never fetch the profile')
})

test('open_id-only and user_id-only apps, several apps on one server', async (t) => {
  const seen: Identity[] = []
  const app = await appFor({ seen, apps: [keyMode(), keyMode({ appId: USER_APP_ID })] })
  const first = await login(app, { authCode: sandbox.issueAuthCode({ openId: 'open-o', userId: '2088000000000001' }, APP_ID) })
  t.equal(first.json().user.id, `alipay:${APP_ID}:open-o`, 'the first app is the default')
  t.same(seen.pop(), { provider: 'alipay', surface: 'miniprogram', appId: APP_ID, openId: 'open-o' })

  const second = await login(app, { authCode: sandbox.issueAuthCode({ openId: 'open-u', userId: '2088000000000002' }, USER_APP_ID), appId: USER_APP_ID })
  t.equal(second.json().user.id, `alipay:${USER_APP_ID}:2088000000000002`)
  t.same(seen.pop(), { provider: 'alipay', surface: 'miniprogram', appId: USER_APP_ID, alipayUserId: '2088000000000002' })
  const session = await app.sessions.get(second.json().skey)
  t.match(session, { appId: USER_APP_ID, alipayUserId: '2088000000000002' })

  const crossed = await login(app, { authCode: sandbox.issueAuthCode({}, USER_APP_ID), appId: APP_ID })
  t.equal(crossed.json().code, 'MPA_CODE_INVALID', 'a code of one app does not log in to another')
})

test('same-code retries: one upstream exchange, the same answer, across instances', async (t) => {
  const keyPrefix = world.subPrefix('alipay-once')
  const one = await appFor({ keyPrefix })
  const two = await appFor({ keyPrefix })

  const code = sandbox.issueAuthCode({ openId: 'open-r', scope: 'auth_user', profile: { nickName: 'R' } })
  const before = sandbox.calls(OAUTH_TOKEN)
  const first = await login(one, { authCode: code, scope: 'auth_user' })
  const retry = await login(one, { authCode: code, scope: 'auth_user' })
  t.equal(first.statusCode, 200)
  t.same(retry.json(), first.json(), 'the replay is the first answer, profile field included')
  t.equal(sandbox.calls(OAUTH_TOKEN) - before, 1)

  sandbox.fail(OAUTH_TOKEN, { delayMs: 200 })
  const concurrent = sandbox.issueAuthCode({ openId: 'open-s' })
  const mark = sandbox.calls(OAUTH_TOKEN)
  const [a, b] = await Promise.all([login(one, { authCode: concurrent }), login(two, { authCode: concurrent })])
  t.equal(a.statusCode, 200)
  t.same(b.json(), a.json(), 'both instances answer with the same session')
  t.equal(sandbox.calls(OAUTH_TOKEN) - mark, 1, 'one upstream exchange')

  sandbox.fail(OAUTH_TOKEN, { subCode: 'isp.unknow-error' })
  const flaky = sandbox.issueAuthCode({ openId: 'open-f' })
  t.equal((await login(one, { authCode: flaky })).statusCode, 502)
  t.equal((await login(two, { authCode: flaky })).statusCode, 200, 'a failed exchange is not replayed: the retry really retries')
})

test('no access token, refresh token or private key in any reply or log line', async (t) => {
  const logs = world.capture()
  const app = await appFor({ logs, apps: keyMode({ privateKey: bareBase64(pkcs8Pem) }) })
  const replies: string[] = []
  const run = async (payload: Record<string, unknown>) => {
    const res = await login(app, payload)
    replies.push(res.body)
    return res
  }
  const profile = { nickName: 'S', avatar: 'https://x.example/a.png' }
  const ok = await run({ authCode: sandbox.issueAuthCode({ scope: 'auth_user', profile }), scope: 'auth_user' })
  replies.push((await app.inject({ url: '/auth/session', headers: { 'x-skey': ok.json().skey } })).body)
  replies.push((await app.inject({ url: '/auth/sessions', headers: { 'x-skey': ok.json().skey } })).body)
  // A tampered success carries real tokens, and alipay-sdk quotes them in its error message.
  for (const fault of [{ badSignature: true }, { missingSignature: true }, { subCode: 'isv.code-invalid' }, { nonJson: true }]) {
    sandbox.fail(OAUTH_TOKEN, fault)
    await run({ authCode: sandbox.issueAuthCode({}) })
  }
  sandbox.fail(USER_INFO_SHARE, { badSignature: true })
  await run({ authCode: sandbox.issueAuthCode({ scope: 'auth_user', profile }), scope: 'auth_user' })
  const misconfigured = await appFor({ logs, apps: keyMode({ privateKey: strangerKeys.privateKey }) })
  replies.push((await login(misconfigured, { authCode: sandbox.issueAuthCode({}) })).body)

  const session = await app.sessions.get(ok.json().skey)
  const secrets = [session?.secrets.accessToken, session?.secrets.refreshToken]
  t.match(secrets, [/^authusrB/, /^authusrB/])
  t.ok(logs.lines.length > 20, 'trace logging captured lines')
  t.match(logs.text, /signature check failed/, 'the failures were logged')
  for (const line of [...logs.lines, ...replies]) {
    if (/authusrB|access_token|refresh_token/.test(line) || privateKeyMarks.some((mark) => line.includes(mark))) {
      t.fail(`a secret leaked: ${line.slice(0, 300)}`)
    }
  }
})

test('the whole file: no token, private key or app secret in any reply, no skey in any log line', async (t) => {
  world.assertNoSecrets(t)
})
