import {
  createHash, createPrivateKey, createPublicKey, createSign, createVerify, generateKeyPairSync, randomBytes, randomInt,
  X509Certificate, type KeyObject
} from 'node:crypto'
import { Certificate } from '@fidm/x509'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'

// A local stand-in for Alipay's gateway.do, for alipay.system.oauth.token and
// alipay.user.info.share, faithful where the real alipay-sdk cares: RSA2
// request signatures are verified, every response (error_response included)
// is signed over the exact bytes of its node, certificate mode carries SNs.

export const OAUTH_TOKEN = 'alipay.system.oauth.token'
export const USER_INFO_SHARE = 'alipay.user.info.share'

export type AlipayIdentityMode = 'open_id' | 'user_id' | 'both'
export type AlipayAuthScope = 'auth_base' | 'auth_user'

export interface AlipaySandboxApp {
  appId: string
  /** The app public key (key mode): PEM or bare base64 SPKI. */
  publicKey?: string | Buffer
  /** The app public key certificate (certificate mode), issued under the sandbox root. */
  appCertContent?: string | Buffer
  /** Which ids oauth.token returns. New Alipay apps get open_id only. Default 'open_id'. */
  identityMode?: AlipayIdentityMode
}

export interface AlipaySandboxProfile {
  nickName?: string
  avatar?: string
  gender?: 'F' | 'M'
  province?: string
  city?: string
}

export interface AlipaySandboxUser {
  openId?: string
  userId?: string
  unionId?: string
  scope?: AlipayAuthScope
  profile?: AlipaySandboxProfile
}

export interface AlipaySandboxFault {
  /** Answer with this error sub_code (its usual code and msg unless given). */
  subCode?: string
  code?: string
  msg?: string
  /** Wait this long before answering. */
  delayMs?: number
  /** Tamper with the node after signing it. */
  badSignature?: boolean
  /** Leave the sign field out. */
  missingSignature?: boolean
  /** Answer with an HTML page instead of JSON. */
  nonJson?: boolean
  /** Answer with this HTTP status (and a plain body). */
  httpStatus?: number
  /** How many calls the fault applies to. Default 1. */
  times?: number
}

export interface AlipaySandboxOptions {
  host?: string
  /** Default 0: any free port. */
  port?: number
  /** The sandbox's own ("Alipay") key pair; generated when absent. */
  keyPair?: { privateKey: string | Buffer, publicKey: string | Buffer }
  /**
   * Certificate mode: the certificate of keyPair's public key (what apps pass
   * as alipayPublicCertContent) and the root bundle (alipayRootCertContent).
   */
  certificates?: { alipayPublicCert: string | Buffer, alipayRootCert: string | Buffer }
  apps?: AlipaySandboxApp[]
  /** The clock for code and token expiry and the timestamp check. Default Date.now. */
  now?: () => number
  /** Lifetime of an auth code. Default 5 minutes. */
  codeTtlMs?: number
  /** Largest accepted difference between the request timestamp (China time) and the clock. Default 15 minutes. */
  timestampToleranceMs?: number
}

/** What the gateway saw of one request. */
export interface AlipaySandboxRequest {
  method: string
  appId: string | undefined
  /** The timestamp parameter as sent (Alipay reads it as China time, GMT+8). */
  timestamp: string | undefined
  /** The instant the timestamp names, read as China time. */
  timestampMs: number | undefined
}

interface RegisteredApp {
  appId: string
  publicKey: KeyObject
  certSn: string | undefined
  identityMode: AlipayIdentityMode
}

interface IssuedUser {
  appId: string
  openId: string
  userId: string
  unionId: string | undefined
  scope: AlipayAuthScope
  profile: AlipaySandboxProfile
}

interface Grant extends IssuedUser {
  expiresAt: number
}

interface PendingFault extends AlipaySandboxFault {
  remaining: number
}

type Node = Record<string, unknown>

const CHINA_OFFSET_MS = 8 * 3_600_000
const ACCESS_TOKEN_TTL_S = 1_296_000 // 15 days, as Alipay issues them
const REFRESH_TOKEN_TTL_S = 2_592_000 // 30 days

// Usual code and msg of the sub_codes the sandbox and fault injection use.
const ERRORS: Record<string, [code: string, msg: string]> = {
  'isv.missing-app-id': ['40001', 'Missing Required Arguments'],
  'isv.missing-signature': ['40001', 'Missing Required Arguments'],
  'isv.missing-app-cert-sn': ['40001', 'Missing Required Arguments'],
  'isv.missing-alipay-root-cert-sn': ['40001', 'Missing Required Arguments'],
  'isv.invalid-app-id': ['40002', 'Invalid Arguments'],
  'isv.invalid-signature': ['40002', 'Invalid Arguments'],
  'isv.invalid-signature-type': ['40002', 'Invalid Arguments'],
  'isv.invalid-timestamp': ['40002', 'Invalid Arguments'],
  'isv.invalid-method': ['40002', 'Invalid Arguments'],
  'isv.invalid-app-cert-sn': ['40002', 'Invalid Arguments'],
  'isv.invalid-alipay-root-cert-sn': ['40002', 'Invalid Arguments'],
  'isv.code-invalid': ['40002', 'Invalid Arguments'],
  'isv.grant-type-invalid': ['40002', 'Invalid Arguments'],
  'isv.refresh-token-invalid': ['40002', 'Invalid Arguments'],
  'isv.refresh-token-time-out': ['40002', 'Invalid Arguments'],
  'isv.unmatched-app-id': ['40002', 'Invalid Arguments'],
  'isv.missing-signature-config': ['40003', 'Insufficient Conditions'],
  'isv.app-call-limited': ['40005', 'Call Limited'],
  'isv.method-call-limited': ['40005', 'Call Limited'],
  'isv.insufficient-isv-permissions': ['40006', 'Insufficient Permissions'],
  'isv.insufficient-user-permissions': ['40006', 'Insufficient Permissions'],
  'aop.invalid-auth-token': ['20001', 'Insufficient Token Permissions'],
  'aop.auth-token-time-out': ['20001', 'Insufficient Token Permissions'],
  'isp.unknow-error': ['20000', 'Service Currently Unavailable'],
  'aop.unknow-error': ['20000', 'Service Currently Unavailable']
}

class GatewayError extends Error {
  constructor (readonly subCode: string, readonly subMsg: string) {
    super(subMsg)
  }
}

/** A new RSA 2048 key pair in the shape Alipay's key tool or openssl gives. */
export function generateRsaKeyPair (options: { format?: 'pkcs1' | 'pkcs8', bare?: boolean } = {}): { privateKey: string, publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const format = options.format ?? 'pkcs8'
  const pem = privateKey.export({ type: format, format: 'pem' }).toString()
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  return options.bare
    ? { privateKey: bareBase64(pem), publicKey: bareBase64(publicPem) }
    : { privateKey: pem, publicKey: publicPem }
}

/** The base64 body of a PEM, as Alipay's console shows keys. */
export function bareBase64 (pem: string): string {
  return pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '')
}

/** A public key from PEM, bare base64 SPKI, or a Buffer of either. */
function toPublicKey (key: string | Buffer): KeyObject {
  const text = String(key).trim()
  return text.startsWith('-----')
    ? createPublicKey(text)
    : createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' })
}

/**
 * The serial "SN" Alipay gives a certificate, computed as alipay-sdk computes
 * it, with the same certificate parser, so that any issuer DN (commas, e-mail
 * addresses) gives the SDK's answer: md5 of the issuer attributes in reverse
 * order, comma-joined, and the decimal serial.
 */
export function certificateSn (pem: string | Buffer): string {
  return snOf(Certificate.fromPEM(Buffer.from(pem)))
}

/** The SN of a root bundle: the SNs of its RSA-signed certificates, '_'-joined. */
export function rootCertificateSn (bundle: string | Buffer): string {
  return Certificate.fromPEMs(Buffer.from(bundle))
    .filter((cert) => cert.signatureOID.startsWith(RSA_SIGNATURE_OID))
    .map(snOf)
    .join('_')
}

const RSA_SIGNATURE_OID = '1.2.840.113549.1.1'

function snOf (cert: Certificate): string {
  const issuer = cert.issuer.attributes.map(({ shortName, value }) => `${shortName}=${String(value)}`).reverse().join(',')
  return md5(issuer + BigInt(`0x${cert.serialNumber}`).toString(10))
}

function md5 (text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex')
}

export class AlipaySandbox {
  /** The gateway URL to pass as `gateway`. */
  url = ''
  /** The sandbox public key, PEM (SPKI): the app's `alipayPublicKey`. */
  readonly publicKey: string
  /** Every request the gateway received, oldest first. */
  readonly requests: AlipaySandboxRequest[] = []

  private readonly privateKey: KeyObject
  private readonly alipayCertSn: string | undefined
  private readonly rootCertSn: string | undefined
  private readonly apps = new Map<string, RegisteredApp>()
  private readonly codes = new Map<string, Grant>()
  private readonly accessTokens = new Map<string, Grant>()
  private readonly refreshTokens = new Map<string, Grant>()
  private readonly faults = new Map<string, PendingFault[]>()
  private readonly callCounts = new Map<string, number>()
  private readonly server = createServer((request, response) => {
    this.handle(request, response).catch((err: unknown) => {
      response.statusCode = 500
      response.end(String(err))
    })
  })

  private readonly now: () => number
  private readonly codeTtlMs: number
  private readonly timestampToleranceMs: number

  constructor (options: AlipaySandboxOptions = {}) {
    const keyPair = options.keyPair ?? generateRsaKeyPair()
    this.privateKey = toPrivateKey(keyPair.privateKey)
    this.publicKey = toPublicKey(keyPair.publicKey).export({ type: 'spki', format: 'pem' }).toString()
    if (options.certificates) {
      const cert = new X509Certificate(options.certificates.alipayPublicCert)
      if (!cert.publicKey.equals(createPublicKey(this.privateKey))) {
        throw new TypeError('certificates.alipayPublicCert must certify the public key of keyPair')
      }
      this.alipayCertSn = certificateSn(options.certificates.alipayPublicCert)
      this.rootCertSn = rootCertificateSn(options.certificates.alipayRootCert)
    }
    this.now = options.now ?? Date.now
    this.codeTtlMs = options.codeTtlMs ?? 5 * 60_000
    this.timestampToleranceMs = options.timestampToleranceMs ?? 15 * 60_000
    for (const app of options.apps ?? []) this.registerApp(app)
  }

  async listen (host = '127.0.0.1', port = 0): Promise<this> {
    this.server.listen(port, host)
    await once(this.server, 'listening')
    const address = this.server.address() as AddressInfo
    this.url = `http://${host}:${address.port}/gateway.do`
    return this
  }

  async close (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  /** Registers an app: its public key (key mode) or its certificate (certificate mode). */
  registerApp (app: AlipaySandboxApp): void {
    let publicKey: KeyObject
    let certSn: string | undefined
    if (app.appCertContent) {
      if (!this.rootCertSn) throw new TypeError('registerApp: an app certificate needs a sandbox in certificate mode (options.certificates)')
      publicKey = new X509Certificate(app.appCertContent).publicKey
      certSn = certificateSn(app.appCertContent)
    } else if (app.publicKey) {
      publicKey = toPublicKey(app.publicKey)
    } else {
      throw new TypeError('registerApp: give the app publicKey or appCertContent')
    }
    this.apps.set(app.appId, { appId: app.appId, publicKey, certSn, identityMode: app.identityMode ?? 'open_id' })
  }

  /**
   * Plays my.getAuthCode: a single-use code for this user that expires after
   * codeTtlMs. The app defaults to the only (or first) registered one.
   */
  issueAuthCode (user: AlipaySandboxUser = {}, appId?: string): string {
    const app = appId ?? this.apps.keys().next().value
    if (app === undefined || !this.apps.has(app)) throw new TypeError(`issueAuthCode: no registered app ${appId ?? ''}`)
    const code = randomBytes(16).toString('hex')
    this.codes.set(code, {
      appId: app,
      openId: user.openId ?? `0${randomDigits(15)}${randomBytes(8).toString('hex')}`,
      userId: user.userId ?? `2088${randomDigits(12)}`,
      unionId: user.unionId,
      scope: user.scope ?? 'auth_base',
      profile: user.profile ?? {},
      expiresAt: this.now() + this.codeTtlMs
    })
    return code
  }

  /** The next `times` calls of `method` ('*' for any) misbehave as described. */
  fail (method: string, fault: AlipaySandboxFault): void {
    const queue = this.faults.get(method) ?? []
    queue.push({ ...fault, remaining: fault.times ?? 1 })
    this.faults.set(method, queue)
  }

  clearFaults (): void {
    this.faults.clear()
  }

  /** How many requests for `method` (every method when absent) arrived. */
  calls (method?: string): number {
    if (method !== undefined) return this.callCounts.get(method) ?? 0
    let total = 0
    for (const count of this.callCounts.values()) total += count
    return total
  }

  private takeFault (method: string): PendingFault | undefined {
    for (const key of [method, '*']) {
      const queue = this.faults.get(key)
      const fault = queue?.[0]
      if (queue && fault) {
        if (--fault.remaining <= 0) queue.shift()
        return fault
      }
    }
    return undefined
  }

  private async handle (request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://sandbox')
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    if (url.pathname !== '/gateway.do') {
      response.statusCode = 404
      response.end('Not Found')
      return
    }
    const params = new Map<string, string>(url.searchParams)
    for (const [key, value] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) params.set(key, value)

    const method = params.get('method') ?? ''
    const timestamp = params.get('timestamp')
    this.requests.push({ method, appId: params.get('app_id'), timestamp, timestampMs: timestamp ? parseChinaTime(timestamp) : undefined })
    this.callCounts.set(method, (this.callCounts.get(method) ?? 0) + 1)

    const fault = this.takeFault(method)
    if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs))
    if (fault?.httpStatus) {
      response.statusCode = fault.httpStatus
      response.setHeader('content-type', 'text/html;charset=utf-8')
      response.end('<html><body>Service Unavailable</body></html>')
      return
    }
    if (fault?.nonJson) {
      response.setHeader('content-type', 'text/html;charset=utf-8')
      response.end('<html><head><title>系统繁忙</title></head><body>Busy</body></html>')
      return
    }

    let node: Node
    let failed = false
    try {
      if (fault?.subCode ?? fault?.code) {
        throw new GatewayError(fault.subCode ?? '', fault.msg ?? 'injected fault')
      }
      node = this.dispatch(method, params)
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err
      const [code, msg] = ERRORS[err.subCode] ?? ['40004', 'Business Failed']
      node = { code: fault?.code ?? code, msg: fault?.msg ?? msg, sub_code: err.subCode, sub_msg: err.subMsg }
      failed = true
    }
    // oauth.token reports failures in error_response; other methods in their own node.
    const key = failed && method !== USER_INFO_SHARE ? 'error_response' : `${method.replaceAll('.', '_')}_response`
    response.setHeader('content-type', 'text/html;charset=utf-8')
    response.setHeader('trace_id', randomBytes(12).toString('hex'))
    response.end(this.envelope(key, node, fault))
  }

  /** The response body, signed over the exact bytes of the node as emitted. */
  private envelope (key: string, node: Node, fault: AlipaySandboxFault | undefined): string {
    // Alipay escapes '/' (avatar URLs): the SDK must verify the bytes as sent.
    const nodeJson = JSON.stringify(node).replaceAll('/', '\\/')
    const sign = createSign('RSA-SHA256').update(nodeJson, 'utf8').sign(this.privateKey, 'base64')
    const emitted = fault?.badSignature ? nodeJson.replace('{', '{"tampered":"1",') : nodeJson
    let body = `{"${key}":${emitted}`
    if (this.alipayCertSn) body += `,"alipay_cert_sn":"${this.alipayCertSn}"`
    if (!fault?.missingSignature) body += `,"sign":"${sign}"`
    return `${body}}`
  }

  private dispatch (method: string, params: Map<string, string>): Node {
    const app = this.verifyRequest(params)
    if (method === OAUTH_TOKEN) return this.oauthToken(app, params)
    if (method === USER_INFO_SHARE) return this.userInfoShare(app, params)
    throw new GatewayError('isv.invalid-method', '不存在的方法名')
  }

  /** The checks the gateway makes before any method: app, timestamp, certificates, signature. */
  private verifyRequest (params: Map<string, string>): RegisteredApp {
    const appId = params.get('app_id')
    if (!appId) throw new GatewayError('isv.missing-app-id', '缺少AppID参数')
    const app = this.apps.get(appId)
    if (!app) throw new GatewayError('isv.invalid-app-id', '无效的AppID参数')
    if (params.get('sign_type') !== 'RSA2') throw new GatewayError('isv.invalid-signature-type', '无效的签名类型')
    const timestampMs = parseChinaTime(params.get('timestamp') ?? '')
    if (timestampMs === undefined || Math.abs(timestampMs - this.now()) > this.timestampToleranceMs) {
      throw new GatewayError('isv.invalid-timestamp', `非法的时间戳参数: ${params.get('timestamp') ?? ''} is not the current China time (GMT+8)`)
    }
    if (app.certSn) {
      const appCertSn = params.get('app_cert_sn')
      const rootCertSn = params.get('alipay_root_cert_sn')
      if (!appCertSn) throw new GatewayError('isv.missing-app-cert-sn', '缺少应用公钥证书序列号')
      if (appCertSn !== app.certSn) throw new GatewayError('isv.invalid-app-cert-sn', '应用公钥证书序列号不匹配')
      if (!rootCertSn) throw new GatewayError('isv.missing-alipay-root-cert-sn', '缺少支付宝根证书序列号')
      if (rootCertSn !== this.rootCertSn) throw new GatewayError('isv.invalid-alipay-root-cert-sn', '支付宝根证书序列号不匹配')
    }
    const sign = params.get('sign')
    if (!sign) throw new GatewayError('isv.missing-signature', '缺少签名参数')
    const content = [...params]
      .filter(([key, value]) => key !== 'sign' && value !== '')
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => `${key}=${value}`)
      .join('&')
    if (!createVerify('RSA-SHA256').update(content, 'utf8').verify(app.publicKey, sign, 'base64')) {
      throw new GatewayError('isv.invalid-signature', `验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：${content}`)
    }
    return app
  }

  private oauthToken (app: RegisteredApp, params: Map<string, string>): Node {
    const grantType = params.get('grant_type')
    let grant: Grant | undefined
    if (grantType === 'authorization_code') {
      const code = params.get('code') ?? ''
      grant = this.codes.get(code)
      this.codes.delete(code) // single use, even when it fails below
      if (!grant || grant.appId !== app.appId || grant.expiresAt <= this.now()) {
        throw new GatewayError('isv.code-invalid', '授权码code无效')
      }
    } else if (grantType === 'refresh_token') {
      const token = params.get('refresh_token') ?? ''
      grant = this.refreshTokens.get(token)
      if (!grant || grant.appId !== app.appId) throw new GatewayError('isv.refresh-token-invalid', '刷新令牌refresh_token无效')
      if (grant.expiresAt <= this.now()) throw new GatewayError('isv.refresh-token-time-out', '刷新令牌refresh_token过期')
      this.refreshTokens.delete(token)
    } else {
      throw new GatewayError('isv.grant-type-invalid', 'grant_type参数不正确')
    }

    const accessToken = `authusrB${randomBytes(16).toString('hex')}`
    const refreshToken = `authusrB${randomBytes(16).toString('hex')}`
    this.accessTokens.set(accessToken, { ...grant, expiresAt: this.now() + ACCESS_TOKEN_TTL_S * 1000 })
    this.refreshTokens.set(refreshToken, { ...grant, expiresAt: this.now() + REFRESH_TOKEN_TTL_S * 1000 })
    return {
      ...this.identityFields(app, grant),
      ...(grant.unionId ? { union_id: grant.unionId } : {}),
      access_token: accessToken,
      expires_in: ACCESS_TOKEN_TTL_S,
      refresh_token: refreshToken,
      re_expires_in: REFRESH_TOKEN_TTL_S,
      auth_start: formatChinaTime(this.now())
    }
  }

  private userInfoShare (app: RegisteredApp, params: Map<string, string>): Node {
    const grant = this.accessTokens.get(params.get('auth_token') ?? '')
    if (!grant || grant.appId !== app.appId) throw new GatewayError('aop.invalid-auth-token', '无效的访问令牌')
    if (grant.expiresAt <= this.now()) throw new GatewayError('aop.auth-token-time-out', '访问令牌已过期')
    if (grant.scope !== 'auth_user') throw new GatewayError('isv.insufficient-user-permissions', '用户权限不足: the code was issued for auth_base')
    const { nickName, avatar, gender, province, city } = grant.profile
    return {
      code: '10000',
      msg: 'Success',
      ...this.identityFields(app, grant),
      ...(avatar !== undefined ? { avatar } : {}),
      ...(nickName !== undefined ? { nick_name: nickName } : {}),
      ...(gender !== undefined ? { gender } : {}),
      ...(province !== undefined ? { province } : {}),
      ...(city !== undefined ? { city } : {})
    }
  }

  private identityFields (app: RegisteredApp, user: IssuedUser): Node {
    return {
      ...(app.identityMode !== 'open_id' ? { user_id: user.userId } : {}),
      ...(app.identityMode !== 'user_id' ? { open_id: user.openId } : {})
    }
  }
}

/** Starts a sandbox gateway; `sandbox.url` is its gateway.do. */
export async function createAlipaySandbox (options: AlipaySandboxOptions = {}): Promise<AlipaySandbox> {
  return new AlipaySandbox(options).listen(options.host, options.port)
}

/** 'yyyy-MM-dd HH:mm:ss' as China time (GMT+8), whatever this process's TZ. */
export function formatChinaTime (ms: number): string {
  return new Date(ms + CHINA_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ')
}

function parseChinaTime (text: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text)
  if (!match) return undefined
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number]
  return Date.UTC(y, mo - 1, d, h, mi, s) - CHINA_OFFSET_MS
}

function toPrivateKey (key: string | Buffer): KeyObject {
  const text = String(key).trim()
  if (text.startsWith('-----')) return createPrivateKey(text)
  const der = Buffer.from(text, 'base64')
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
  } catch {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs1' })
  }
}

function randomDigits (count: number): string {
  let digits = ''
  for (let i = 0; i < count; i++) digits += String(randomInt(10))
  return digits
}
