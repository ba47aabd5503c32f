import { randomBytes, randomInt, X509Certificate, type KeyObject } from 'node:crypto'
import { formatChinaTime, parseChinaTime } from './china-time.js'
import { certificateSn, toPublicKey } from './keys.js'
import { GatewayError, signatureContent, verifySignature, type Node } from './alipay-signing.js'

// What gateway.do does once a request is parsed: the checks before any method
// (app, timestamp, certificate SNs, signature), then oauth.token and
// user.info.share with Alipay's state rules. Refusals are GatewayErrors.

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
  /** The app's AES key (接口内容加密方式), base64: what phone payloads are encrypted with. None: they come in clear, refused. */
  aesKey?: string
}

export interface AlipaySandboxProfile {
  nickName?: string
  avatar?: string
  /** Sent as given: Alipay documents F/M, and real replies have carried f/m. */
  gender?: 'F' | 'M' | 'f' | 'm'
  province?: string
  city?: string
}

export interface AlipaySandboxUser {
  openId?: string
  userId?: string
  unionId?: string
  scope?: AlipayAuthScope
  profile?: AlipaySandboxProfile
  /** What my.getPhoneNumber gives; '' for an account with no phone bound. Default a random mainland number. */
  mobile?: string
}

export interface GatewayOptions {
  now?: () => number
  /** Default 5 minutes. */
  codeTtlMs?: number
  /** Default 15 minutes. */
  timestampToleranceMs?: number
  /** The root SN apps must send; set in certificate mode only. */
  rootCertSn?: string | undefined
}

interface RegisteredApp {
  readonly appId: string
  readonly publicKey: KeyObject
  readonly certSn: string | undefined
  readonly aesKey: string | undefined
  identityMode: AlipayIdentityMode
}

interface Grant {
  appId: string
  openId: string
  userId: string
  unionId: string | undefined
  scope: AlipayAuthScope
  profile: AlipaySandboxProfile
  expiresAt: number
}

const ACCESS_TOKEN_TTL_S = 1_296_000 // 15 days, as Alipay issues them
const REFRESH_TOKEN_TTL_S = 2_592_000 // 30 days

export class AlipayGateway {
  private readonly apps = new Map<string, RegisteredApp>()
  private readonly codes = new Map<string, Grant>()
  private readonly accessTokens = new Map<string, Grant>()
  private readonly refreshTokens = new Map<string, Grant>()
  private readonly now: () => number
  private readonly codeTtlMs: number
  private readonly timestampToleranceMs: number
  private readonly rootCertSn: string | undefined

  /** `remember` notes each secret handed out, for leak checks, and returns it. */
  constructor (options: GatewayOptions, private readonly remember: (secret: string) => string) {
    this.now = options.now ?? Date.now
    this.codeTtlMs = options.codeTtlMs ?? 5 * 60_000
    this.timestampToleranceMs = options.timestampToleranceMs ?? 15 * 60_000
    this.rootCertSn = options.rootCertSn
  }

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
    this.apps.set(app.appId, { appId: app.appId, publicKey, certSn, aesKey: app.aesKey, identityMode: app.identityMode ?? 'open_id' })
  }

  /** Moves an app to another identity mode, as Alipay moves apps from user_id to open_id; live codes and tokens follow. */
  setIdentityMode (appId: string, identityMode: AlipayIdentityMode): void {
    const app = this.apps.get(appId)
    if (!app) throw new TypeError(`setIdentityMode: no registered app ${appId}`)
    app.identityMode = identityMode
  }

  /** The AES key an app was registered with: what its phone payloads are encrypted with. */
  aesKeyOf (appId?: string): string | undefined {
    return this.registered('phonePayload', appId).aesKey
  }

  issueAuthCode (user: AlipaySandboxUser = {}, appId?: string): string {
    const app = this.registered('issueAuthCode', appId).appId
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

  /** The app a call names, else the only (or first) registered one. */
  private registered (caller: string, appId?: string): RegisteredApp {
    const app = this.apps.get(appId ?? this.apps.keys().next().value ?? '')
    if (!app) throw new TypeError(`${caller}: no registered app ${appId ?? ''}`)
    return app
  }

  /** The success node of a method call; a GatewayError when refused. */
  dispatch (method: string, params: Map<string, string>): Node {
    const app = this.verifyRequest(params)
    if (method === OAUTH_TOKEN) return this.oauthToken(app, params)
    if (method === USER_INFO_SHARE) return this.userInfoShare(app, params)
    throw new GatewayError('isv.invalid-method', '不存在的方法名')
  }

  /** The checks the gateway makes before any method: app, timestamp, certificates, signature. */
  private verifyRequest (params: Map<string, string>): RegisteredApp {
    const appId = params.get('app_id')
    // Checked first, before the signature, and answered unsigned, as the live
    // gateway does: an answer is signed for the app that asked, and there is none.
    if (!appId) throw new GatewayError('isv.missing-app-id', '缺少AppID参数', { unsigned: true })
    const app = this.apps.get(appId)
    if (!app) throw new GatewayError('isv.invalid-app-id', '无效的AppID参数', { unsigned: true })
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
    const content = signatureContent(params)
    if (!verifySignature(content, sign, app.publicKey)) {
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

    const accessToken = this.remember(`authusrB${randomBytes(16).toString('hex')}`)
    const refreshToken = this.remember(`authusrB${randomBytes(16).toString('hex')}`)
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

  private identityFields (app: RegisteredApp, user: Grant): Node {
    return {
      ...(app.identityMode !== 'open_id' ? { user_id: user.userId } : {}),
      ...(app.identityMode !== 'user_id' ? { open_id: user.openId } : {})
    }
  }
}

function randomDigits (count: number): string {
  let digits = ''
  for (let i = 0; i < count; i++) digits += String(randomInt(10))
  return digits
}
