import tap from 'tap'
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import https from 'node:https'
import net from 'node:net'
import { join } from 'node:path'
import tls from 'node:tls'
import { generateRsaKeyPair } from '../../sandbox/keys.js'
import { createDouyinSandbox } from '../../sandbox/douyin.js'
import { npm, project, tempDir } from './npm.js'

// Douyin's official OpenAPI SDK for Node (@open-dy/open_api_sdk), unchanged,
// against our Douyin sandbox: its client_token, its v2 jscode2session, and
// get_phonenumber_info through its commonOpenAPI, with the RSA answer opened
// by the app's key. The SDK speaks HTTPS to hosts written in its code, so the
// test answers TLS locally and sends the connections its HTTPS agents open
// for those hosts to the sandbox (the SDK's code and options stay as
// published). Installed here, not as a devDependency: it pulls in 38
// packages the product never needs.

tap.setTimeout(120_000)

const SDK_NAME = '@open-dy/open_api_sdk'
const SDK = `${SDK_NAME}@1.1.0`
const APP_ID = 'tt00000000000sdk01'
const SECRET = 'sdk-douyin-secret-0123456789abcdef'
const HOSTS = new Set(['open.douyin.com', 'developer.toutiao.com'])

const dir = project(tap, 'douyin-sdk')
await npm(dir, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', SDK])
const nativeAddons = (execFileSync('find', [join(dir, 'node_modules'), '-name', '*.node'], { encoding: 'utf8' })).trim()

// A throwaway certificate for the local TLS front (the SDK does not verify, as published: ignoreSSL).
const certs = tempDir(tap, 'douyin-sdk-tls')
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=open.douyin.com',
  '-keyout', join(certs, 'key.pem'), '-out', join(certs, 'cert.pem')], { stdio: 'ignore' })

const sandbox = await createDouyinSandbox({ apps: { [APP_ID]: SECRET } })
tap.teardown(() => sandbox.close())
const keys = generateRsaKeyPair()
sandbox.setPhoneKey(APP_ID, keys.publicKey)
const sandboxPort = Number(new URL(sandbox.url).port)
const front = tls.createServer({ key: readFileSync(join(certs, 'key.pem')), cert: readFileSync(join(certs, 'cert.pem')) }, (socket) => {
  const upstream = net.connect(sandboxPort, '127.0.0.1')
  socket.pipe(upstream).pipe(socket)
  socket.on('error', () => upstream.destroy())
  upstream.on('error', () => socket.destroy())
})
front.listen(0, '127.0.0.1')
await new Promise((resolve) => front.once('listening', resolve))
tap.teardown(() => new Promise((resolve) => front.close(resolve)))
const frontPort = (front.address() as net.AddressInfo).port

// Douyin's hosts → the front; any other host as usual.
const createConnection = https.Agent.prototype.createConnection
https.Agent.prototype.createConnection = function (this: https.Agent, options: tls.ConnectionOptions, callback: unknown) {
  const redirected = HOSTS.has(String(options.host)) ? { ...options, host: '127.0.0.1', port: frontPort, servername: String(options.host) } : options
  return (createConnection as (...args: unknown[]) => net.Socket).call(this, redirected, callback)
}
tap.teardown(() => { https.Agent.prototype.createConnection = createConnection })

const require = createRequire(join(dir, 'package.json'))
type Constructor = new (...args: any[]) => any
const { default: Client, OauthClientTokenRequest, V2Jscode2sessionRequest, CommonRequest } = require(SDK_NAME) as Record<'default' | 'OauthClientTokenRequest' | 'V2Jscode2sessionRequest' | 'CommonRequest', Constructor>
const client = new Client({ clientKey: APP_ID, clientSecret: SECRET })

tap.test('the SDK installs without native addons', async (t) => {
  t.equal(nativeAddons, '', 'no .node file in its tree')
  t.ok(readdirSync(join(dir, 'node_modules', '@open-dy')).includes('open_api_sdk'))
})

tap.test('oauthClientToken: a client_token from the sandbox, and the sandbox\'s error_code for a wrong secret', async (t) => {
  const reply = await client.oauthClientToken(new OauthClientTokenRequest({ clientKey: APP_ID, clientSecret: SECRET, grantType: 'client_credential' }))
  t.match(reply.data, { accessToken: /^clt\./, errorCode: 0 })
  t.equal(Number(reply.data.expiresIn), 7200)
  const refused = await client.oauthClientToken(new OauthClientTokenRequest({ clientKey: APP_ID, clientSecret: 'wrong', grantType: 'client_credential' }))
  t.match(refused.data, { errorCode: 10013, description: /client_secret/ }, 'HTTP 200, the error inside data, as the SDK reads it')
})

tap.test('v2Jscode2session: tt.login\'s codes for openid, session_key and anonymous_openid', async (t) => {
  const codes = sandbox.login({ openId: 'o-sdk', anonymousOpenId: 'a-sdk', unionId: 'u-sdk' })
  const reply = await client.v2Jscode2session(new V2Jscode2sessionRequest({ appid: APP_ID, secret: SECRET, code: codes.code, anonymousCode: codes.anonymousCode }))
  t.match(reply, { errNo: 0, data: { openid: 'o-sdk', anonymousOpenid: 'a-sdk', unionid: 'u-sdk', sessionKey: sandbox.sessionKeyOf('o-sdk') } })
  await t.rejects(client.v2Jscode2session(new V2Jscode2sessionRequest({ appid: APP_ID, secret: SECRET, code: codes.code, anonymousCode: '' })), 'a spent code: err_no 40018')
})

tap.test('get_phonenumber_info through commonOpenAPI: the number sealed with the app\'s public key', async (t) => {
  sandbox.login({ openId: 'o-phone', anonymousOpenId: 'a-phone', phone: '13600000001' })
  const token = (await client.oauthClientToken(new OauthClientTokenRequest({ clientKey: APP_ID, clientSecret: SECRET, grantType: 'client_credential' }))).data.accessToken
  const reply = await client.commonOpenAPI(new CommonRequest({
    host: 'open.douyin.com',
    path: '/api/apps/v1/get_phonenumber_info/',
    method: 'POST',
    header: { 'content-type': 'application/json', 'access-token': token },
    body: { code: sandbox.phoneCode('o-phone') }
  }))
  t.equal(reply.err_no, 0)
  const { privateDecrypt, constants } = await import('node:crypto')
  // Opened as Douyin's docs say (PKCS#1 v1.5): by hand, since Node refuses that padding in privateDecrypt.
  const block = privateDecrypt({ key: keys.privateKey, padding: constants.RSA_NO_PADDING }, Buffer.from(reply.data, 'base64'))
  const phone = JSON.parse(block.subarray(block.indexOf(0, 2) + 1).toString('utf8'))
  t.match(phone, { phoneNumber: '13600000001', purePhoneNumber: '13600000001', countryCode: '86', watermark: { appid: APP_ID } })
})
