import { test } from 'tap'
import { createSign, createVerify, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parsePrivateKey, parsePublicKey } from '../../providers/alipay/keys.js'
import { alipayAppOf, type AlipayApp, type AlipayAppOptions } from '../../providers/alipay/options.js'
import { CERTIFICATE_PROBLEM, errorForNode } from '../../providers/alipay/sub-codes.js'
// The sandbox computes certificate SNs its own way (docs/architecture.md: independent of the product code).
import { certificateSn, rootCertificateSn } from '../../sandbox/index.js'
import { makeCertificates } from '../helpers/alipay.js'
import { rsaKeyPair as pooledRsaKeyPair } from '../../sandbox/keys.js'

// Alipay's error table, key parsing and option checks, without a gateway:
// what alipayAppOf builds is checked through the alipay-sdk client it
// returns, which signs requests and verifies responses locally.

const APP_ID = '2021000000000001'

// 2048-bit pairs from the sandbox's pool (MPA_SANDBOX_KEY_POOL): generating them is the slow part.
function rsaKeyPair (modulusLength = 2048): { privateKey: KeyObject, publicKey: KeyObject } {
  return modulusLength === 2048 ? pooledRsaKeyPair() : generateKeyPairSync('rsa', { modulusLength })
}
const app = rsaKeyPair()
const alipay = rsaKeyPair()
const stranger = rsaKeyPair()

const pem = (key: KeyObject, type: 'pkcs1' | 'pkcs8' | 'spki'): string => key.export({ type, format: 'pem' } as never).toString()
const bare = (text: string): string => text.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '')

const appPkcs1 = pem(app.privateKey, 'pkcs1')
const appPkcs8 = pem(app.privateKey, 'pkcs8')
const alipaySpki = pem(alipay.publicKey, 'spki')
const alipayPkcs1 = pem(alipay.publicKey, 'pkcs1')

/** Every shape a user may hold the app private key in. */
const PRIVATE_KEY_FORMS: Record<string, string | Buffer> = {
  'PKCS1 PEM': appPkcs1,
  'PKCS8 PEM': appPkcs8,
  'PKCS1 bare base64': bare(appPkcs1),
  'PKCS8 bare base64': bare(appPkcs8),
  'PKCS8 PEM in a Buffer': Buffer.from(appPkcs8),
  'PKCS1 bare base64 in a Buffer': Buffer.from(bare(appPkcs1)),
  'PKCS8 body under a PKCS1 label': appPkcs8.replaceAll('PRIVATE KEY', 'RSA PRIVATE KEY'),
  'CRLF line ends': appPkcs8.replaceAll('\n', '\r\n'),
  'surrounding blank lines': `\n\n${appPkcs1}\n\n`
}

/** Every shape a user may hold the Alipay public key in. */
const PUBLIC_KEY_FORMS: Record<string, string | Buffer> = {
  'SPKI PEM': alipaySpki,
  'PKCS1 PEM': alipayPkcs1,
  'SPKI bare base64 (as the open platform shows it)': bare(alipaySpki),
  'PKCS1 bare base64': bare(alipayPkcs1),
  'SPKI PEM in a Buffer': Buffer.from(alipaySpki),
  'SPKI body under a PKCS1 label': alipaySpki.replaceAll('PUBLIC KEY', 'RSA PUBLIC KEY')
}

// openssl-made certificates: the Alipay key's, and the app key's (appPkcs1).
const certs = makeCertificates(pem(alipay.privateKey, 'pkcs8'), appPkcs1)

const keyMode = (extra: Partial<AlipayAppOptions> = {}): AlipayAppOptions => ({ appId: APP_ID, privateKey: appPkcs8, alipayPublicKey: alipaySpki, ...extra })

/** The parameters of a request the app's SDK signs, and whether `publicKey` verifies its RSA2 signature. */
function signedRequest (built: AlipayApp, publicKey: KeyObject): { params: URLSearchParams, verifies: boolean } {
  const params = new URLSearchParams(built.sdk.sdkExecute('alipay.system.oauth.token', { grantType: 'authorization_code', code: 'c' }))
  const sign = params.get('sign') ?? ''
  const signed = [...params.entries()].filter(([name]) => name !== 'sign').sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, value]) => `${name}=${value}`).join('&')
  return { params, verifies: createVerify('RSA-SHA256').update(signed).verify(publicKey, sign, 'base64') }
}

/** Whether the app's SDK accepts a response signed by `privateKey` (it must accept Alipay's only). */
function acceptsResponseFrom (built: AlipayApp, privateKey: KeyObject): boolean {
  const content = '{"code":"10000","msg":"Success","open_id":"074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5"}'
  return built.sdk.rsaCheck(content, createSign('RSA-SHA256').update(content).sign(privateKey, 'base64'))
}

test('errorForNode: every sub_code family to its status', async (t) => {
  const table: Array<[Record<string, unknown>, string, number]> = [
    ...['isv.code-invalid', 'isv.refresh-token-invalid', 'isv.refresh-token-time-out', 'aop.invalid-auth-token', 'aop.auth-token-time-out', 'isv.insufficient-user-permissions']
      .map((subCode): [Record<string, unknown>, string, number] => [{ code: '40002', subCode }, 'MPA_CODE_INVALID', 401]),
    [{ code: '40005' }, 'MPA_UPSTREAM_RATE_LIMITED', 429],
    [{ code: 40005 }, 'MPA_UPSTREAM_RATE_LIMITED', 429],
    [{ code: '40004', subCode: 'isv.app-call-limited' }, 'MPA_UPSTREAM_RATE_LIMITED', 429],
    [{ code: '40004', subCode: 'isv.method-call-limited' }, 'MPA_UPSTREAM_RATE_LIMITED', 429],
    [{ code: '40004', subCode: 'ACQ.API_LIMIT' }, 'MPA_UPSTREAM_RATE_LIMITED', 429],
    [{ code: '20000', subCode: 'isp.unknow-error' }, 'MPA_UPSTREAM_ERROR', 502],
    [{ code: '20000' }, 'MPA_UPSTREAM_ERROR', 502],
    [{ code: '40004', subCode: 'isv.some-new-sub-code' }, 'MPA_UPSTREAM_ERROR', 502],
    [{}, 'MPA_UPSTREAM_ERROR', 502]
  ]
  for (const [node, code, statusCode] of table) {
    const { error, fix } = errorForNode(node, APP_ID)
    t.match(error, { code, statusCode }, `${JSON.stringify(node)} → ${statusCode}`)
    t.equal(fix, undefined, `${JSON.stringify(node)}: nothing for the operator`)
  }
  t.match(errorForNode({ code: '40002', subCode: 'isv.code-invalid' }, APP_ID).error.message, /\(isv\.code-invalid\)$/, 'the client learns the sub_code')
  t.match(errorForNode({ code: '20000', subCode: 'isp.unknow-error' }, APP_ID).error.message, /: Alipay isp\.unknow-error$/)
  t.match(errorForNode({ code: '20000' }, APP_ID).error.message, /: Alipay 20000$/, 'no sub_code: the code')
  t.match(errorForNode({}, APP_ID).error.message, /: Alipay no code$/)
})

test('errorForNode: what the operator must fix is a 500 with a fix, and the reply says only where to look', async (t) => {
  const misconfigured: Array<[string, RegExp | string]> = [
    ['isv.invalid-signature', /privateKey does not match the app public key/],
    ['isv.invalid-app-id', /Alipay does not know this appId at this gateway/],
    ['isv.unmatched-app-id', /the authCode was issued to another app/],
    ['isv.missing-signature-config', /no app public key or certificate is set/],
    ['isv.invalid-signature-type', /not set up for RSA2 signatures/],
    ['isv.invalid-timestamp', /check this server's clock \(NTP\)/],
    ['isv.insufficient-isv-permissions', /the app lacks the product this call needs/],
    ['isv.grant-type-invalid', /rejected the grant type/],
    // Certificate sub_codes: whatever their name, the certificate advice.
    ['isv.app-cert-expired', CERTIFICATE_PROBLEM],
    ['isv.invalid-app-cert-sn', CERTIFICATE_PROBLEM],
    ['isv.alipay-root-cert-sn-mismatch', CERTIFICATE_PROBLEM],
    ['isv.certificate-invalid', CERTIFICATE_PROBLEM]
  ]
  const subMsg = 'sign check fail: check if the sign content app_id=2021000000000001&code=authusrB0123 is right'
  for (const [subCode, fix] of misconfigured) {
    const result = errorForNode({ code: '40002', subCode, subMsg }, APP_ID)
    t.match(result, { error: { code: 'MPA_MISCONFIGURED', statusCode: 500 } }, subCode)
    t.match(result.fix, fix, `${subCode}: the fix`)
    t.equal(result.error.message, `Server misconfiguration: Alipay refused app ${APP_ID} (${subCode}); the server log says what to fix`, `${subCode}: no fix and no sub_msg in the reply`)
  }
})

test('errorForNode: camelCase subCode and snake_case sub_code are both read', async (t) => {
  for (const subCode of ['isv.code-invalid', 'isv.app-call-limited', 'isv.invalid-signature', 'isv.app-cert-expired', 'isp.unknow-error']) {
    const camel = errorForNode({ code: '40004', subCode }, APP_ID)
    const snake = errorForNode({ code: '40004', sub_code: subCode }, APP_ID)
    t.same([snake.error.code, snake.error.message, snake.fix], [camel.error.code, camel.error.message, camel.fix], subCode)
  }
  t.equal(errorForNode({ code: '40004', sub_code: 'isv.code-invalid' }, APP_ID).error.code, 'MPA_CODE_INVALID', 'snake_case alone decides')
})

test('parsePrivateKey and parsePublicKey: PEM or bare, PKCS1 or PKCS8/SPKI, string or Buffer', async (t) => {
  for (const [name, value] of Object.entries(PRIVATE_KEY_FORMS)) {
    t.ok(parsePrivateKey(value, 'alipay.privateKey').equals(app.privateKey), `private key, ${name}`)
  }
  for (const [name, value] of Object.entries(PUBLIC_KEY_FORMS)) {
    t.ok(parsePublicKey(value, 'alipay.alipayPublicKey').equals(alipay.publicKey), `public key, ${name}`)
  }
})

test('alipayAppOf, key mode: requests signed with the app key and responses checked with the Alipay key, whatever their shape', async (t) => {
  for (const [name, privateKey] of Object.entries(PRIVATE_KEY_FORMS)) {
    const built = alipayAppOf(keyMode({ privateKey }), 'alipay')
    t.ok(signedRequest(built, app.publicKey).verifies, `private key ${name}: the app public key verifies its requests`)
  }
  for (const [name, alipayPublicKey] of Object.entries(PUBLIC_KEY_FORMS)) {
    const built = alipayAppOf(keyMode({ alipayPublicKey }), 'alipay')
    t.ok(acceptsResponseFrom(built, alipay.privateKey), `Alipay public key ${name}: Alipay's responses verify`)
    t.notOk(acceptsResponseFrom(built, stranger.privateKey), `Alipay public key ${name}: another key's responses do not`)
  }
  const built = alipayAppOf(keyMode({ gateway: 'http://127.0.0.1:9/gateway.do', timeout: '1500ms' }), 'alipay')
  t.match(built, { appId: APP_ID, timeoutMs: 1500 })
  t.notOk(signedRequest(built, stranger.publicKey).verifies, 'a signature check that can fail')
  t.equal(alipayAppOf(keyMode(), 'alipay').timeoutMs, 5000, 'default timeout 5 s')
  t.equal(signedRequest(built, app.publicKey).params.get('sign_type'), 'RSA2')
})

test('alipayAppOf, certificate mode: contents, Buffers or paths; requests carry the SNs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpa-unit-alipay-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = (name: string, content: string): string => {
    writeFileSync(join(dir, name), content)
    return join(dir, name)
  }
  const paths = { app: file('app.crt', certs.appCert), root: file('root.crt', certs.rootBundle), alipay: file('alipay.crt', certs.alipayPublicCert) }
  const base = { appId: APP_ID, privateKey: appPkcs8 }
  const setups: Record<string, AlipayAppOptions> = {
    contents: { ...base, appCertContent: certs.appCert, alipayRootCertContent: certs.rootBundle, alipayPublicCertContent: certs.alipayPublicCert },
    Buffers: { ...base, appCertContent: Buffer.from(certs.appCert), alipayRootCertContent: Buffer.from(certs.rootBundle), alipayPublicCertContent: Buffer.from(certs.alipayPublicCert) },
    paths: { ...base, appCertPath: paths.app, alipayRootCertPath: paths.root, alipayPublicCertPath: paths.alipay },
    'contents and paths mixed': { ...base, appCertContent: certs.appCert, alipayRootCertPath: paths.root, alipayPublicCertPath: paths.alipay },
    'content wins over a path': { ...base, appCertContent: certs.appCert, appCertPath: join(dir, 'missing.crt'), alipayRootCertPath: paths.root, alipayPublicCertContent: certs.alipayPublicCert }
  }
  for (const [name, options] of Object.entries(setups)) {
    const built = alipayAppOf(options, 'alipay')
    const { params, verifies } = signedRequest(built, app.publicKey)
    t.ok(verifies, `${name}: signed with the app key`)
    t.equal(params.get('app_cert_sn'), certificateSn(certs.appCert), `${name}: app_cert_sn`)
    t.equal(params.get('alipay_root_cert_sn'), rootCertificateSn(certs.rootBundle), `${name}: alipay_root_cert_sn`)
    t.ok(acceptsResponseFrom(built, alipay.privateKey), `${name}: responses verified with the key in the Alipay certificate`)
    t.notOk(acceptsResponseFrom(built, stranger.privateKey), `${name}: and with no other`)
  }
  t.notOk(signedRequest(alipayAppOf(keyMode(), 'alipay'), app.publicKey).params.has('app_cert_sn'), 'key mode sends no SN')
  t.not(certificateSn(certs.otherAppCert), certificateSn(certs.appCert), 'the SN check above can tell certificates apart')
})

test('alipayAppOf: refusals name the option and show no key material', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpa-unit-alipay-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'a-directory.crt'))
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const encrypted = (type: 'pkcs1' | 'pkcs8'): string => app.privateKey.export({ type, format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString()
  const allCerts = { appCertContent: certs.appCert, alipayRootCertContent: certs.rootBundle, alipayPublicCertContent: certs.alipayPublicCert }
  const certMode = (extra: Partial<AlipayAppOptions>): AlipayAppOptions => ({ ...keyMode({ alipayPublicKey: undefined }), ...allCerts, ...extra })

  const cases: Array<[string, AlipayAppOptions, RegExp, string?]> = [
    ['empty appId', keyMode({ appId: '' }), /^alipay\.appId must be the app's id on the Alipay open platform \(got ""\)$/],
    ['appId too long', keyMode({ appId: '2'.repeat(33) }), /^alipay\.appId must be/],
    ['appId not a string', keyMode({ appId: 2021 as never }), /^alipay\[1\]\.appId must be .*\(got 2021\)$/, 'alipay[1]'],
    ['no privateKey', keyMode({ privateKey: undefined as never }), /^alipay\.privateKey must be a string or a Buffer$/],
    ['privateKey a number', keyMode({ privateKey: 42 as never }), /^alipay\.privateKey must be a string or a Buffer$/],
    ['privateKey garbage', keyMode({ privateKey: 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ' }), /^alipay\.privateKey is not a readable private key: give the app private key/],
    ['privateKey is a public key', keyMode({ privateKey: pem(app.publicKey, 'spki') }), /^alipay\.privateKey is not a readable private key/],
    ['encrypted PKCS8', keyMode({ privateKey: encrypted('pkcs8') }), /^alipay\.privateKey is encrypted: pass the unencrypted key$/],
    ['encrypted PKCS1', keyMode({ privateKey: encrypted('pkcs1') }), /^alipay\[1\]\.privateKey is encrypted/, 'alipay[1]'],
    ['EC key', keyMode({ privateKey: pem(ec.privateKey, 'pkcs8') }), /^alipay\.privateKey must be an RSA key of 2048 bits or more for RSA2 signatures \(got ec\)$/],
    ['1024-bit RSA', keyMode({ privateKey: pem(rsaKeyPair(1024).privateKey, 'pkcs1') }), /^alipay\.privateKey must be an RSA key of 2048 bits or more .*\(got rsa 1024\)$/],
    ['gateway without a scheme', keyMode({ gateway: 'openapi.alipay.com' }), /^alipay\.gateway must be an http\(s\) URL \(got "openapi.alipay.com"\)$/],
    ['gateway not a string', keyMode({ gateway: 42 as never }), /^alipay\.gateway must be an http\(s\) URL \(got 42\)$/],
    ['negative timeout', keyMode({ timeout: -1 }), /^alipay\.timeout must be a positive number of seconds/],
    ['no Alipay public key', keyMode({ alipayPublicKey: undefined }), /^alipay\.alipayPublicKey is required \(or certificate mode\): Alipay responses are always verified$/],
    ['the app public key as the Alipay key', keyMode({ alipayPublicKey: pem(app.publicKey, 'spki') }), /^alipay\.alipayPublicKey is your app public key: it must be the Alipay public key/],
    ['the app public key, bare PKCS1', keyMode({ alipayPublicKey: bare(pem(app.publicKey, 'pkcs1')) }), /^alipay\[1\]\.alipayPublicKey is your app public key/, 'alipay[1]'],
    ['an EC public key', keyMode({ alipayPublicKey: pem(ec.publicKey, 'spki') }), /^alipay\.alipayPublicKey is not a readable RSA public key/],
    ['not a key', keyMode({ alipayPublicKey: 'not a key' }), /^alipay\.alipayPublicKey is not a readable RSA public key/],
    ['Alipay key a number', keyMode({ alipayPublicKey: 42 as never }), /^alipay\.alipayPublicKey must be a string or a Buffer$/],
    ['one certificate', keyMode({ alipayPublicKey: undefined, appCertContent: certs.appCert }), /^alipay: certificate mode needs appCertContent, alipayRootCertContent and alipayPublicCertContent \(or the \.\.\.Path variants\)$/],
    ['two certificates', certMode({ alipayPublicCertContent: undefined }), /^alipay: certificate mode needs/],
    ['certificates and a key', { ...keyMode(), ...allCerts }, /^alipay: give alipayPublicKey \(key mode\) or the three certificates \(certificate mode\), not both$/],
    ['an app certificate of another key', certMode({ privateKey: pem(stranger.privateKey, 'pkcs8') }), /^alipay\.appCertContent does not certify the public key of alipay\.privateKey/],
    ['app certificate garbage', certMode({ appCertContent: 'x' }), /^alipay\.appCertContent is not a PEM certificate$/],
    ['Alipay certificate garbage', certMode({ alipayPublicCertContent: 'x' }), /^alipay\.alipayPublicCertContent is not a PEM certificate$/],
    ['root certificate garbage', certMode({ alipayRootCertContent: 'x' }), /^alipay\.alipayRootCertContent is not a PEM certificate$/],
    ['certificate content a number', certMode({ appCertContent: 42 as never }), /^alipay\.appCertContent must be a string or a Buffer$/],
    ['missing file', certMode({ appCertContent: undefined, appCertPath: '/nonexistent/app.crt' }), /^alipay\.appCertPath: cannot read \/nonexistent\/app\.crt \(ENOENT\)$/],
    ['a directory', certMode({ alipayRootCertContent: undefined, alipayRootCertPath: join(dir, 'a-directory.crt') }), /^alipay\.alipayRootCertPath: cannot read .*a-directory\.crt \(EISDIR\)$/],
    ['path not a string', certMode({ alipayPublicCertContent: undefined, alipayPublicCertPath: 42 as never }), /^alipay\.alipayPublicCertPath must be a file path$/]
  ]
  const material = [appPkcs1, appPkcs8, pem(stranger.privateKey, 'pkcs8'), pem(app.publicKey, 'spki')].map((key) => bare(key).slice(60, 100))
  for (const [name, options, message, option = 'alipay'] of cases) {
    let error: unknown = null
    try {
      alipayAppOf(options, option)
    } catch (err) {
      error = err
    }
    t.match(error, { name: 'TypeError', message }, name)
    const text = String((error as Error | null)?.message)
    t.notOk(material.some((mark) => text.includes(mark)) || /MIIE|DECODER|error:0/.test(text), `${name}: no key material, no OpenSSL jargon`)
  }
})
