import { test } from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AlipayRequestError, AlipaySdk, type AlipaySdkConfig } from 'alipay-sdk'
import {
  bareBase64, certificateSn, createAlipaySandbox, formatChinaTime, generateRsaKeyPair, OAUTH_TOKEN, rootCertificateSn, USER_INFO_SHARE,
  type AlipaySandbox
} from '../../sandbox/index.js'
import { makeCertificates } from '../helpers/alipay.js'

// The sandbox checked with the real alipay-sdk, the client it must satisfy.
const APP_ID = '2021000000000001'
const sandboxKeys = generateRsaKeyPair()
const appKeys = generateRsaKeyPair({ format: 'pkcs1' })
const strangerKeys = generateRsaKeyPair()

function sdkFor (sandbox: AlipaySandbox, extra: Partial<AlipaySdkConfig> = {}): AlipaySdk {
  return new AlipaySdk({
    appId: APP_ID,
    privateKey: appKeys.privateKey,
    alipayPublicKey: bareBase64(sandbox.publicKey),
    gateway: sandbox.url,
    timeout: 2000,
    ...extra
  })
}

// The gateway reads timestamp as China time; alipay-sdk sends local time.
const now = (): string => formatChinaTime(Date.now())

async function token (sdk: AlipaySdk, code: string) {
  return sdk.exec(OAUTH_TOKEN, { grantType: 'authorization_code', code, timestamp: now() }, { validateSign: true })
}

/** The parsed body of a response alipay-sdk refused, with its error node's signature checked. */
function verifiedErrorOf (sdk: AlipaySdk, err: unknown): Record<string, string> {
  if (!(err instanceof AlipayRequestError) || !err.responseDataRaw) throw err
  const body = JSON.parse(err.responseDataRaw) as { error_response: Record<string, string>, sign: string }
  sdk.checkResponseSign(err.responseDataRaw, 'error_response', body.sign, '')
  return body.error_response
}

async function sandboxFor (t: { teardown: (fn: () => unknown) => void }, options: Parameters<typeof createAlipaySandbox>[0] = {}): Promise<AlipaySandbox> {
  const sandbox = await createAlipaySandbox({ keyPair: sandboxKeys, apps: [{ appId: APP_ID, publicKey: appKeys.publicKey }], ...options })
  t.teardown(() => sandbox.close())
  return sandbox
}

test('oauth.token: a verified open_id-only answer, and codes are single use', async (t) => {
  const sandbox = await sandboxFor(t)
  const sdk = sdkFor(sandbox)
  const code = sandbox.issueAuthCode({ openId: 'open-1', unionId: 'union-1' })
  const result = await token(sdk, code)
  t.equal(result.openId, 'open-1')
  t.equal(result.unionId, 'union-1')
  t.notOk('userId' in result, 'new apps get no user_id')
  t.match(result.accessToken, /^authusrB/)
  t.match(result.refreshToken, /^authusrB/)
  t.equal(result.expiresIn, 1296000)
  t.match(result.authStart, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/)
  t.equal(result.code, undefined, 'a success has no code')

  // alipay-sdk fails every error_response under validateSign: it is still signed.
  const again = await token(sdk, code).catch((err: unknown) => err)
  t.match(verifiedErrorOf(sdk, again), { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.code-invalid' })
  t.equal(sandbox.calls(OAUTH_TOKEN), 2)
  t.equal(sandbox.calls(), 2)
  t.same(sandbox.secrets(), [result.accessToken, result.refreshToken], 'the tokens it issued, for leak checks')
})

test('identity modes: user_id only, and both', async (t) => {
  const sandbox = await sandboxFor(t, { apps: [] })
  sandbox.registerApp({ appId: APP_ID, publicKey: appKeys.publicKey, identityMode: 'user_id' })
  const sdk = sdkFor(sandbox)
  const userOnly = await token(sdk, sandbox.issueAuthCode({ userId: '2088000000000001' }))
  t.equal(userOnly.userId, '2088000000000001')
  t.notOk('openId' in userOnly)
  sandbox.registerApp({ appId: APP_ID, publicKey: appKeys.publicKey, identityMode: 'both' })
  const both = await token(sdk, sandbox.issueAuthCode({}))
  t.match(both.userId, /^2088\d{12}$/)
  t.match(both.openId, /^0\d{15}[0-9a-f]{16}$/)
})

test('codes expire on the injected clock, and belong to one app', async (t) => {
  let clock = Date.now()
  const sandbox = await sandboxFor(t, { now: () => clock, codeTtlMs: 60_000 })
  const other = generateRsaKeyPair({ bare: true })
  sandbox.registerApp({ appId: '2021000000000002', publicKey: other.publicKey })
  const sdk = sdkFor(sandbox)
  const code = sandbox.issueAuthCode({})
  clock += 61_000
  const stale = await token(sdk, code).catch((err: unknown) => err)
  t.equal(verifiedErrorOf(sdk, stale).sub_code, 'isv.code-invalid')

  clock = Date.now()
  const foreign = sandbox.issueAuthCode({}, '2021000000000002')
  const refused = await token(sdk, foreign).catch((err: unknown) => err)
  t.equal(verifiedErrorOf(sdk, refused).sub_code, 'isv.code-invalid', 'a code of another app is invalid here')
  t.throws(() => sandbox.issueAuthCode({}, 'nope'), /no registered app/)
})

test('request signatures are verified with the registered app key', async (t) => {
  const sandbox = await sandboxFor(t)
  const sdk = sdkFor(sandbox, { privateKey: strangerKeys.privateKey, keyType: 'PKCS8' })
  const err = await token(sdk, sandbox.issueAuthCode({})).catch((error: unknown) => error)
  const node = verifiedErrorOf(sdk, err)
  t.match(node, { code: '40002', sub_code: 'isv.invalid-signature' })
  t.match(node.sub_msg, /method=alipay\.system\.oauth\.token/, 'it quotes the string it verified, as Alipay does')

  // An app the gateway does not know: refused unsigned (test/sandbox/alipay-fidelity.test.ts).
  const unknownApp = sdkFor(sandbox, { appId: '2021009999999999' })
  const refused = await unknownApp.exec(OAUTH_TOKEN, { grantType: 'authorization_code', code: sandbox.issueAuthCode({}), timestamp: now() })
  t.match(refused, { code: '40002', subCode: 'isv.invalid-app-id' })
})

test('the timestamp must be China time', async (t) => {
  const sandbox = await sandboxFor(t)
  const sdk = sdkFor(sandbox)
  const utcWallClock = new Date().toISOString().slice(0, 19).replace('T', ' ')
  const err = await sdk.exec(OAUTH_TOKEN, { grantType: 'authorization_code', code: sandbox.issueAuthCode({}), timestamp: utcWallClock }, { validateSign: true })
    .catch((error: unknown) => error)
  t.equal(verifiedErrorOf(sdk, err).sub_code, 'isv.invalid-timestamp')
  t.equal(sandbox.requests.at(-1)?.timestamp, utcWallClock)
  t.ok(Math.abs((sandbox.requests.at(-1)?.timestampMs ?? 0) - (Date.now() - 8 * 3_600_000)) < 5000, 'read as GMT+8')
})

test('user.info.share: the profile for auth_user, refusals for auth_base and bad tokens', async (t) => {
  const sandbox = await sandboxFor(t)
  const sdk = sdkFor(sandbox)
  const profile = { nickName: '小明', avatar: 'https://tfs.alipayobjects.com/images/partner/T1a.png', gender: 'M' as const, province: '浙江省', city: '杭州市' }
  const granted = await token(sdk, sandbox.issueAuthCode({ openId: 'open-u', scope: 'auth_user', profile }))
  const info = await sdk.exec(USER_INFO_SHARE, { auth_token: granted.accessToken, timestamp: now() }, { validateSign: true })
  t.match(info, { code: '10000', msg: 'Success', openId: 'open-u', ...profile }, 'escaped slashes verify and decode')

  const base = await token(sdk, sandbox.issueAuthCode({ scope: 'auth_base' }))
  const refused = await sdk.exec(USER_INFO_SHARE, { auth_token: base.accessToken, timestamp: now() }, { validateSign: true })
  t.match(refused, { code: '40006', subCode: 'isv.insufficient-user-permissions' }, 'signed, in the method node, returned not thrown')
  const bogus = await sdk.exec(USER_INFO_SHARE, { auth_token: 'authusrBnope', timestamp: now() }, { validateSign: true })
  t.match(bogus, { code: '20001', subCode: 'aop.invalid-auth-token' })
})

test('refresh_token grants rotate the refresh token', async (t) => {
  const sandbox = await sandboxFor(t)
  const sdk = sdkFor(sandbox)
  const first = await token(sdk, sandbox.issueAuthCode({ openId: 'open-r' }))
  const refreshed = await sdk.exec(OAUTH_TOKEN, { grantType: 'refresh_token', refreshToken: first.refreshToken, timestamp: now() }, { validateSign: true })
  t.equal(refreshed.openId, 'open-r')
  const reused = await sdk.exec(OAUTH_TOKEN, { grantType: 'refresh_token', refreshToken: first.refreshToken, timestamp: now() }, { validateSign: true })
    .catch((err: unknown) => err)
  t.equal(verifiedErrorOf(sdk, reused).sub_code, 'isv.refresh-token-invalid')
  const wrongGrant = await sdk.exec(OAUTH_TOKEN, { grantType: 'password', timestamp: now() }, { validateSign: true }).catch((err: unknown) => err)
  t.equal(verifiedErrorOf(sdk, wrongGrant).sub_code, 'isv.grant-type-invalid')
})

test('fault injection', async (t) => {
  const sandbox = await sandboxFor(t)
  const sdk = sdkFor(sandbox)

  sandbox.fail(OAUTH_TOKEN, { subCode: 'isp.unknow-error', times: 2 })
  for (let i = 0; i < 2; i++) {
    const err = await token(sdk, sandbox.issueAuthCode({})).catch((error: unknown) => error)
    t.match(verifiedErrorOf(sdk, err), { code: '20000', sub_code: 'isp.unknow-error' })
  }
  t.ok((await token(sdk, sandbox.issueAuthCode({}))).accessToken, 'times ran out')

  sandbox.fail('*', { subCode: 'isv.app-call-limited' })
  t.equal(verifiedErrorOf(sdk, await token(sdk, sandbox.issueAuthCode({})).catch((e: unknown) => e)).code, '40005', "'*' matches any method")

  sandbox.fail(OAUTH_TOKEN, { badSignature: true })
  const tampered = await token(sdk, sandbox.issueAuthCode({})).catch((error: unknown) => error)
  t.type(tampered, AlipayRequestError)
  t.match((tampered as AlipayRequestError).message, /验签失败/)
  t.match((tampered as AlipayRequestError).responseDataRaw, /"tampered":"1"/)

  sandbox.fail(OAUTH_TOKEN, { missingSignature: true })
  const unsigned = await token(sdk, sandbox.issueAuthCode({})).catch((error: unknown) => error)
  t.type(unsigned, TypeError, 'alipay-sdk trips over the absent sign field')

  sandbox.fail(OAUTH_TOKEN, { nonJson: true })
  t.match(await token(sdk, sandbox.issueAuthCode({})).catch((e: unknown) => e), { message: /Response 格式错误/ })

  sandbox.fail(OAUTH_TOKEN, { httpStatus: 502 })
  t.match(await token(sdk, sandbox.issueAuthCode({})).catch((e: unknown) => e), { message: /status: 502/ })

  // undici checks timeouts on a coarse timer: the delay must clearly exceed it.
  sandbox.fail(OAUTH_TOKEN, { delayMs: 1500 })
  const slow = sdkFor(sandbox, { timeout: 100 })
  t.match(await token(slow, sandbox.issueAuthCode({})).catch((e: unknown) => e), { message: /timeout/i })

  sandbox.fail(OAUTH_TOKEN, { code: '40004', subCode: 'isv.custom', msg: 'Business Failed' })
  sandbox.clearFaults()
  t.ok((await token(sdk, sandbox.issueAuthCode({}))).accessToken, 'clearFaults drops pending faults')

  const unknown = await sdk.exec('alipay.trade.query', { timestamp: now() }, { validateSign: true }).catch((e: unknown) => e)
  t.equal(verifiedErrorOf(sdk, unknown).sub_code, 'isv.invalid-method')
})

test('certificate mode: SNs checked on requests, alipay_cert_sn on responses', async (t) => {
  const certs = makeCertificates(sandboxKeys.privateKey, appKeys.privateKey)
  const sandbox = await createAlipaySandbox({
    keyPair: sandboxKeys,
    certificates: { alipayPublicCert: certs.alipayPublicCert, alipayRootCert: certs.rootBundle },
    apps: [{ appId: APP_ID, appCertContent: certs.appCert }]
  })
  t.teardown(() => sandbox.close())
  const certConfig = (appCert: string): AlipaySdkConfig => ({
    appId: APP_ID,
    privateKey: appKeys.privateKey,
    gateway: sandbox.url,
    appCertContent: appCert,
    alipayPublicCertContent: certs.alipayPublicCert,
    alipayRootCertContent: certs.rootBundle
  })
  const sdk = new AlipaySdk(certConfig(certs.appCert))
  t.equal(sdk.config.alipayRootCertSn.split('_').length, 1, 'the EC root is left out of the root SN')
  const result = await token(sdk, sandbox.issueAuthCode({ openId: 'open-c' }))
  t.equal(result.openId, 'open-c')

  const stale = new AlipaySdk(certConfig(certs.otherAppCert))
  const err = await token(stale, sandbox.issueAuthCode({})).catch((error: unknown) => error)
  if (!(err instanceof AlipayRequestError) || !err.responseDataRaw) throw err
  t.match(err.responseDataRaw, /"alipay_cert_sn":"[0-9a-f]{32}"/)
  t.equal(verifiedErrorOf(sdk, err).sub_code, 'isv.invalid-app-cert-sn')

  const keyMode = sdkFor(sandbox)
  t.equal(verifiedErrorOf(sdk, await token(keyMode, sandbox.issueAuthCode({})).catch((e: unknown) => e)).sub_code, 'isv.missing-app-cert-sn')

  t.throws(() => sandbox.registerApp({ appId: 'x' }), /publicKey or appCertContent/)
  await t.rejects(createAlipaySandbox({ keyPair: strangerKeys, certificates: { alipayPublicCert: certs.alipayPublicCert, alipayRootCert: certs.rootBundle } }),
    /must certify the public key of keyPair/)
})

test('key helpers: PKCS1 and PKCS8, PEM and bare', async (t) => {
  const pkcs1 = generateRsaKeyPair({ format: 'pkcs1' })
  t.match(pkcs1.privateKey, /^-----BEGIN RSA PRIVATE KEY-----/)
  const pkcs8 = generateRsaKeyPair({ format: 'pkcs8', bare: true })
  t.match(pkcs8.privateKey, /^MII[A-Za-z0-9+/=]+$/)
  t.match(pkcs8.publicKey, /^MII[A-Za-z0-9+/=]+$/)
})

test('certificate SNs match alipay-sdk for any issuer DN (escaped commas, e-mail addresses)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpa-sn-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const keys = generateRsaKeyPair()
  writeFileSync(join(dir, 'key.pem'), keys.privateKey)
  execFileSync('openssl', ['req', '-x509', '-key', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '30', '-set_serial', '123456789',
    '-subj', '/C=CN/ST=Zhejiang/O=Acme\\, Inc./OU=Mini Programs/CN=Test CA/emailAddress=ca@example.com'], { stdio: 'ignore' })
  const pem = readFileSync(join(dir, 'cert.pem'), 'utf8')
  const sdk = new AlipaySdk({ appId: '2021000000000001', privateKey: keys.privateKey, appCertContent: pem, alipayPublicCertContent: pem, alipayRootCertContent: pem })
  const { appCertSn, alipayRootCertSn } = sdk.config as { appCertSn?: string, alipayRootCertSn?: string }
  t.equal(certificateSn(pem), appCertSn, 'the app certificate SN')
  t.equal(rootCertificateSn(pem), alipayRootCertSn, 'the root bundle SN')
})
