import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify'
import type { FastifyError } from '@fastify/error'
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { AlipayRequestError, AlipaySdk, type AlipaySdkConfig } from 'alipay-sdk'
import { Apps, appOptionsOf } from '../lib/apps.js'
import { parseDuration } from '../lib/duration.js'
import {
  CodeInvalidError, MisconfiguredError, UpstreamBadSignatureError, UpstreamError,
  UpstreamRateLimitedError, UpstreamTimeoutError
} from '../lib/errors.js'
import type { Identity } from './sessions.js'

type KeyInput = string | Buffer

export interface AlipayAppOptions {
  /** The mini-program's appId on the Alipay open platform. */
  appId: string
  /** The app private key (应用私钥): PEM or bare base64, PKCS1 or PKCS8; detected from the key. */
  privateKey: KeyInput
  /** Key mode: the Alipay public key (支付宝公钥), not your app public key. */
  alipayPublicKey?: KeyInput
  /** Default Alipay's production gateway. */
  gateway?: string
  /** Upstream timeout: seconds, or a string like '1500ms' or '5s'. Default '5s'. */
  timeout?: number | string
  /** Certificate mode: appCertPublicKey_<appId>.crt. */
  appCertContent?: KeyInput
  /** Certificate mode: alipayRootCert.crt. */
  alipayRootCertContent?: KeyInput
  /** Certificate mode: alipayCertPublicKey_RSA2.crt. */
  alipayPublicCertContent?: KeyInput
  appCertPath?: string
  alipayRootCertPath?: string
  alipayPublicCertPath?: string
}

export interface AlipayPluginOptions {
  /** One app, or several: the login body's appId picks one, the first is the default. */
  apps: AlipayAppOptions | AlipayAppOptions[]
}

/** What alipay.system.oauth.token gave. The tokens are secrets: keep them server-side. */
export interface AlipayAuthResult {
  identity: Identity
  accessToken: string
  refreshToken?: string
  /** Seconds. */
  expiresIn: number
  /** Seconds. */
  reExpiresIn: number
}

/** The alipay.user.info.share fields passed to resolveUser as `identity.profile`. */
export interface AlipayProfile {
  nickName?: string
  avatar?: string
  /** 'F' or 'M'. */
  gender?: string
  province?: string
  city?: string
}

export interface AlipayClient {
  /** The configured appIds; the first is the default. */
  readonly appIds: readonly string[]
  /** The appId a call uses: the given one if configured, else the default. Throws 400 MPA_UNKNOWN_APP. */
  resolveAppId: (appId?: string) => string
  /** alipay.system.oauth.token for an authCode from my.getAuthCode. */
  exchangeAuthCode: (authCode: string, appId?: string) => Promise<AlipayAuthResult>
  /** alipay.user.info.share with an access token of an auth_user code. */
  getUserInfo: (accessToken: string, appId?: string) => Promise<AlipayProfile>
}

declare module 'fastify' {
  interface FastifyInstance {
    alipay: AlipayClient
  }
}

const DEFAULT_GATEWAY = 'https://openapi.alipay.com/gateway.do'
const OAUTH_TOKEN = 'alipay.system.oauth.token'
const USER_INFO_SHARE = 'alipay.user.info.share'
const PROFILE_FIELDS = ['nickName', 'avatar', 'gender', 'province', 'city'] as const

const CODE_INVALID = new Set([
  'isv.code-invalid', 'isv.refresh-token-invalid', 'isv.refresh-token-time-out',
  'aop.invalid-auth-token', 'aop.auth-token-time-out', 'isv.insufficient-user-permissions'
])

// What the operator must fix, per sub_code. Alipay's sub_msg is never echoed:
// for isv.invalid-signature it quotes the signed string, code and token included.
const MISCONFIGURED: Record<string, string> = {
  'isv.invalid-signature': 'privateKey does not match the app public key (or app certificate) uploaded for this app on the Alipay open platform, or gateway points at another environment (sandbox vs production)',
  'isv.invalid-app-id': 'Alipay does not know this appId at this gateway: check appId and that gateway is the right environment (sandbox vs production)',
  'isv.unmatched-app-id': 'the authCode was issued to another app: the mini-program\'s appId must be one configured here',
  'isv.missing-signature-config': 'no app public key or certificate is set for this app on the Alipay open platform: upload it (接口加签方式)',
  'isv.invalid-signature-type': 'the app is not set up for RSA2 signatures on the Alipay open platform',
  'isv.invalid-timestamp': 'Alipay rejected the request time: check this server\'s clock (NTP)',
  'isv.insufficient-isv-permissions': 'the app lacks the product this call needs: add 获取会员信息 (user info) to the app on the Alipay open platform',
  'isv.grant-type-invalid': 'Alipay rejected the grant type of the token request'
}
const CERTIFICATE_PROBLEM = 'certificate mode: appCertContent, alipayPublicCertContent and alipayRootCertContent must be the files the Alipay open platform issued for this app, and not expired'

interface App {
  appId: string
  sdk: AlipaySdk
}

/** The request timestamp in China time (GMT+8): alipay-sdk 4 uses the server's local time. */
function chinaTimestamp (): string {
  return new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ')
}

function textOf (value: unknown, option: string): string {
  if (typeof value === 'string' || Buffer.isBuffer(value)) return value.toString().trim()
  throw new TypeError(`${option} must be a string or a Buffer`)
}

function pemBody (text: string): Buffer {
  return Buffer.from(text.replace(/-----[A-Z0-9 ]+-----/g, '').replace(/\s+/g, ''), 'base64')
}

/** Tries each reading of a key in turn; a wrong label or a bare body still parses. */
function firstParse<T> (attempts: Array<() => T>): T | undefined {
  for (const attempt of attempts) {
    try {
      return attempt()
    } catch {}
  }
  return undefined
}

/** The app private key from PEM or bare base64, PKCS1 or PKCS8, checked to be RSA. */
function parsePrivateKey (value: unknown, option: string): KeyObject {
  const text = textOf(value, option)
  if (text.includes('ENCRYPTED')) throw new TypeError(`${option} is encrypted: pass the unencrypted key`)
  const der = pemBody(text)
  const key = firstParse([
    () => createPrivateKey(text),
    () => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }),
    () => createPrivateKey({ key: der, format: 'der', type: 'pkcs1' })
  ])
  if (!key) {
    throw new TypeError(`${option} is not a readable private key: give the app private key (应用私钥) as PEM (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY) or as the bare base64 Alipay's key tool shows`)
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
  if (key.asymmetricKeyType !== 'rsa' || bits < 2048) {
    throw new TypeError(`${option} must be an RSA key of 2048 bits or more for RSA2 signatures (got ${key.asymmetricKeyType ?? 'unknown'}${bits ? ` ${bits}` : ''})`)
  }
  return key
}

/** A public key from PEM or bare base64 (SPKI or PKCS1). */
function parsePublicKey (value: unknown, option: string): KeyObject {
  const text = textOf(value, option)
  const der = pemBody(text)
  const key = firstParse([
    () => createPublicKey(text),
    () => createPublicKey({ key: der, format: 'der', type: 'spki' }),
    () => createPublicKey({ key: der, format: 'der', type: 'pkcs1' })
  ])
  if (!key || key.asymmetricKeyType !== 'rsa') {
    throw new TypeError(`${option} is not a readable RSA public key: give the Alipay public key (支付宝公钥) as PEM or bare base64`)
  }
  return key
}

function readCertificate (content: unknown, path: unknown, option: string): string | undefined {
  if (content !== undefined && content !== null) return textOf(content, `${option}Content`)
  if (path === undefined || path === null) return undefined
  if (typeof path !== 'string') throw new TypeError(`${option}Path must be a file path`)
  try {
    return readFileSync(path, 'utf8').trim()
  } catch (err) {
    throw new TypeError(`${option}Path: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}

function parseCertificate (pem: string, option: string): X509Certificate {
  try {
    return new X509Certificate(pem)
  } catch {
    throw new TypeError(`${option} is not a PEM certificate`)
  }
}

/** Validates one app's options and builds its alipay-sdk client. Messages name the option. */
function createApp (options: AlipayAppOptions, name: string): App {
  const { appId } = options
  if (typeof appId !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(appId)) {
    throw new TypeError(`${name}.appId must be the app's id on the Alipay open platform (got ${JSON.stringify(appId)})`)
  }
  const privateKey = parsePrivateKey(options.privateKey, `${name}.privateKey`)
  const gateway = options.gateway ?? DEFAULT_GATEWAY
  if (typeof gateway !== 'string' || !/^https?:\/\/[^/]/.test(gateway)) {
    throw new TypeError(`${name}.gateway must be an http(s) URL (got ${JSON.stringify(options.gateway)})`)
  }
  const config: AlipaySdkConfig = {
    appId,
    // PKCS8 base64 whatever the user gave: alipay-sdk wraps it in the PEM lines keyType names.
    privateKey: privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
    keyType: 'PKCS8',
    gateway,
    timeout: parseDuration(options.timeout ?? '5s', `${name}.timeout`)
  }

  const appCert = readCertificate(options.appCertContent, options.appCertPath, `${name}.appCert`)
  const rootCert = readCertificate(options.alipayRootCertContent, options.alipayRootCertPath, `${name}.alipayRootCert`)
  const publicCert = readCertificate(options.alipayPublicCertContent, options.alipayPublicCertPath, `${name}.alipayPublicCert`)
  const certificateMode = appCert !== undefined || rootCert !== undefined || publicCert !== undefined
  const ownPublicKey = createPublicKey(privateKey)

  if (certificateMode) {
    if (options.alipayPublicKey !== undefined) {
      throw new TypeError(`${name}: give alipayPublicKey (key mode) or the three certificates (certificate mode), not both`)
    }
    if (appCert === undefined || rootCert === undefined || publicCert === undefined) {
      throw new TypeError(`${name}: certificate mode needs appCertContent, alipayRootCertContent and alipayPublicCertContent (or the ...Path variants)`)
    }
    if (!parseCertificate(appCert, `${name}.appCertContent`).publicKey.equals(ownPublicKey)) {
      throw new TypeError(`${name}.appCertContent does not certify the public key of ${name}.privateKey: use the app certificate made from this private key`)
    }
    parseCertificate(publicCert, `${name}.alipayPublicCertContent`)
    parseCertificate(rootCert, `${name}.alipayRootCertContent`)
    Object.assign(config, { appCertContent: appCert, alipayRootCertContent: rootCert, alipayPublicCertContent: publicCert })
  } else {
    if (options.alipayPublicKey === undefined) {
      throw new TypeError(`${name}.alipayPublicKey is required (or certificate mode): Alipay responses are always verified`)
    }
    const alipayPublicKey = parsePublicKey(options.alipayPublicKey, `${name}.alipayPublicKey`)
    if (alipayPublicKey.equals(ownPublicKey)) {
      throw new TypeError(`${name}.alipayPublicKey is your app public key: it must be the Alipay public key (支付宝公钥) shown next to it on the open platform`)
    }
    config.alipayPublicKey = alipayPublicKey.export({ type: 'spki', format: 'der' }).toString('base64')
  }

  try {
    return { appId, sdk: new AlipaySdk(config) }
  } catch {
    throw new TypeError(`${name}: alipay-sdk cannot read the certificates: ${CERTIFICATE_PROBLEM}`)
  }
}

/** The HTTP error for an Alipay error node (code, sub_code), and for the operator what to fix. */
function errorForNode (node: Record<string, unknown>, appId: string): { error: FastifyError, fix?: string } {
  const subCode = String(node.subCode ?? node.sub_code ?? '')
  const code = String(node.code ?? '')
  const label = subCode || code || 'no code'
  if (CODE_INVALID.has(subCode)) return { error: new CodeInvalidError(label) }
  if (code === '40005' || /limit/i.test(subCode)) return { error: new UpstreamRateLimitedError(label) }
  const fix = MISCONFIGURED[subCode] ?? (/cert/i.test(subCode) ? CERTIFICATE_PROBLEM : undefined)
  // The fix goes to the log only: the client learns no more than that the server is at fault.
  if (fix) return { error: new MisconfiguredError(`Alipay refused app ${appId} (${subCode}); the server log says what to fix`), fix }
  return { error: new UpstreamError(`Alipay ${label}`) }
}

class AlipayCaller {
  readonly appId: string

  constructor (private readonly app: App, private readonly log: FastifyBaseLogger) {
    this.appId = app.appId
  }

  /** One verified gateway call; every failure becomes one of our errors, with no secret in it. */
  async exec (method: string, params: Record<string, string>): Promise<Record<string, unknown>> {
    let result: Record<string, unknown>
    try {
      result = await this.app.sdk.exec(method, { ...params, timestamp: chinaTimestamp() }, { validateSign: true })
    } catch (err) {
      throw this.failure(method, err)
    }
    if (result.code !== undefined && result.code !== '10000') throw this.rejected(method, result, result.traceId)
    return result
  }

  private rejected (method: string, node: Record<string, unknown>, traceId: unknown): FastifyError {
    const { error, fix } = errorForNode(node, this.app.appId)
    const details = { alipay: { appId: this.app.appId, method, code: node.code, subCode: node.subCode ?? node.sub_code, traceId } }
    if (fix) this.log.error(details, `Alipay refused app ${this.app.appId}: ${fix}`)
    else this.log.warn(details, 'Alipay answered with an error')
    return error
  }

  // alipay-sdk error messages quote the verified string (tokens included): only
  // our own words leave this function, and no SDK error becomes a cause.
  private failure (method: string, err: unknown): FastifyError {
    const badSignature = (detail: string, extra: object = {}): FastifyError => {
      this.log.error({ alipay: { appId: this.app.appId, method, ...extra } }, `Alipay response signature check failed: ${detail}`)
      return new UpstreamBadSignatureError(detail)
    }
    if (!(err instanceof AlipayRequestError)) {
      // alipay-sdk verifies an absent sign field as undefined and throws a TypeError.
      if (err instanceof TypeError && /signature/.test(err.message)) return badSignature('the response carries no signature')
      this.log.error({ alipay: { appId: this.app.appId, method, error: (err as Error)?.name } }, 'Alipay call failed unexpectedly')
      return new UpstreamError(`${method} failed unexpectedly`)
    }
    const cause = err.cause as { name?: string, code?: string } | undefined
    if (err.message.startsWith('HttpClient Request error')) {
      if (/timeout/i.test(`${cause?.name ?? ''} ${err.message}`)) return new UpstreamTimeoutError(`${method} at the Alipay gateway`)
      return new UpstreamError(`cannot reach the Alipay gateway (${cause?.code ?? cause?.name ?? 'network error'})`)
    }
    const status = /status: (\d+)/.exec(err.message)?.[1]
    if (status) return new UpstreamError(`the Alipay gateway answered HTTP ${status}`)
    let body: Record<string, unknown>
    try {
      body = JSON.parse(err.responseDataRaw ?? '') as Record<string, unknown>
    } catch {
      return new UpstreamError('the Alipay gateway answered with something other than JSON')
    }
    const responseKey = `${method.replaceAll('.', '_')}_response`
    const errorNode = body.error_response as Record<string, unknown> | undefined
    if (body[responseKey] === undefined && typeof errorNode === 'object' && errorNode !== null) {
      // alipay-sdk checks an error_response against the method's key, which
      // always fails: verify the error node ourselves, then map it.
      try {
        this.app.sdk.checkResponseSign(err.responseDataRaw as string, 'error_response', body.sign as string, err.traceId ?? '')
      } catch {
        return badSignature('an error_response whose signature does not verify', { unverified: { code: errorNode.code, subCode: errorNode.sub_code } })
      }
      return this.rejected(method, errorNode, err.traceId)
    }
    if (body[responseKey] === undefined) return new UpstreamError(`the Alipay response has no ${responseKey}`)
    return badSignature(`the ${responseKey} does not match its signature`)
  }
}

const alipayPlugin: FastifyPluginAsync<AlipayPluginOptions> = async (fastify, options) => {
  const callers = new Apps(appOptionsOf(options.apps, 'alipay').map(({ options: app, name }) => new AlipayCaller(createApp(app, name), fastify.log)))

  async function exchangeAuthCode (authCode: string, appId?: string): Promise<AlipayAuthResult> {
    const caller = callers.get(appId)
    const token = await caller.exec(OAUTH_TOKEN, { grantType: 'authorization_code', code: authCode })
    const { accessToken, refreshToken, openId, userId, unionId } = token as Record<string, string | undefined>
    if (!accessToken || !(openId ?? userId)) throw new UpstreamError('the token response has no access_token or no open_id/user_id')
    const identity: Identity = { provider: 'alipay', appId: caller.appId }
    // open_id keys the user when present (new apps get nothing else); user_id otherwise.
    if (openId) identity.openId = openId
    if (userId) identity.userId = userId
    if (unionId) identity.unionId = unionId
    return {
      identity,
      accessToken,
      ...(refreshToken ? { refreshToken } : {}),
      expiresIn: Number(token.expiresIn),
      reExpiresIn: Number(token.reExpiresIn)
    }
  }

  async function getUserInfo (accessToken: string, appId?: string): Promise<AlipayProfile> {
    const info = await callers.get(appId).exec(USER_INFO_SHARE, { auth_token: accessToken })
    const profile: AlipayProfile = {}
    for (const field of PROFILE_FIELDS) {
      if (typeof info[field] === 'string') profile[field] = info[field]
    }
    return profile
  }

  fastify.decorate('alipay', { appIds: callers.ids, resolveAppId: (appId) => callers.get(appId).appId, exchangeAuthCode, getUserInfo })
}

export default fp(alipayPlugin, {
  name: 'mpa-alipay',
  fastify: '5.x',
  dependencies: ['mpa-sessions']
})
