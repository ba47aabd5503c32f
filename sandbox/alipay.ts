import { randomBytes } from 'node:crypto'
import { parseChinaTime } from './china-time.js'
import { htmlReply, NOT_FOUND, SandboxServer, type Sandbox, type SandboxFault, type SandboxRequest, type SandboxReply } from './kit.js'
import { AlipayGateway, USER_INFO_SHARE, type AlipayIdentityMode, type AlipaySandboxApp, type AlipaySandboxUser } from './alipay-gateway.js'
import { phoneResponse, type AlipayPhoneOptions } from './alipay-phone.js'
import { AlipaySigner, GatewayError, type Node } from './alipay-signing.js'

// A local stand-in for Alipay's gateway.do, for alipay.system.oauth.token and
// alipay.user.info.share (and for my.getPhoneNumber's signed payloads), faithful where the real alipay-sdk cares: RSA2
// request signatures are verified, every response (error_response included)
// is signed over the exact bytes of its node, certificate mode carries SNs;
// only a refusal of an app_id the gateway does not know comes unsigned, in the
// method's own node, as on the live gateway.

export {
  OAUTH_TOKEN, USER_INFO_SHARE,
  type AlipayAuthScope, type AlipayIdentityMode, type AlipaySandboxApp, type AlipaySandboxProfile, type AlipaySandboxUser
} from './alipay-gateway.js'
export type { AlipayPhoneOptions } from './alipay-phone.js'

export interface AlipaySandboxFault extends SandboxFault {
  /** Answer with this error sub_code (its usual code and msg unless given). */
  subCode?: string
  code?: string
  msg?: string
  /** Tamper with the node after signing it. */
  badSignature?: boolean
  /** Leave the sign field out. */
  missingSignature?: boolean
  /**
   * Answer as the gateway answers what it cannot sign (an app_id it does not
   * know): the node in the method's own key, with no sign and no alipay_cert_sn.
   */
  unsigned?: boolean
  /**
   * Fields set in the answered node over the sandbox's own, before it is
   * signed: `expires_in` as a string (as Alipay's docs type it), or a forgery
   * such as an error node that also carries an `access_token`.
   */
  fields?: Record<string, unknown>
  /** Answer with an HTML page instead of JSON. */
  nonJson?: boolean
  /** Answer with this HTTP status (and an HTML body). */
  httpStatus?: number
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

/** Faults and call counts are per Alipay method ('alipay.system.oauth.token'), any string. */
export interface AlipaySandbox extends Sandbox<string, AlipaySandboxFault> {
  /** The gateway URL to pass as `gateway`. */
  readonly url: string
  /** The sandbox public key, PEM (SPKI): the app's `alipayPublicKey`. */
  readonly publicKey: string
  /** Every request the gateway received, oldest first. */
  readonly requests: AlipaySandboxRequest[]
  /** Registers an app: its public key (key mode) or its certificate (certificate mode). */
  registerApp: (app: AlipaySandboxApp) => void
  /**
   * Plays my.getAuthCode: a single-use code for this user that expires after
   * codeTtlMs. The app defaults to the only (or first) registered one.
   */
  issueAuthCode: (user?: AlipaySandboxUser, appId?: string) => string
  /**
   * Plays my.getPhoneNumber: the `response` string the mini-program gets, with
   * `user.mobile` (default a random mainland number) encrypted under the AES
   * key the app was registered with and signed with the sandbox key; the
   * options give each failure Alipay can hand a client.
   */
  phonePayload: (user?: AlipaySandboxUser, options?: AlipayPhoneOptions) => string
  /**
   * Moves a registered app to another identity mode, as Alipay moves apps from
   * user_id to open_id (through 'both', its validation phase).
   */
  setIdentityMode: (appId: string, mode: AlipayIdentityMode) => void
}

/** Starts a sandbox gateway; `sandbox.url` is its gateway.do. */
export async function createAlipaySandbox (options: AlipaySandboxOptions = {}): Promise<AlipaySandbox> {
  const signer = new AlipaySigner(options)
  const server = new SandboxServer<string, AlipaySandboxFault>('Alipay sandbox')
  const gateway = new AlipayGateway({ ...options, rootCertSn: signer.rootCertSn }, (secret) => server.remember(secret))
  for (const app of options.apps ?? []) gateway.registerApp(app)
  const requests: AlipaySandboxRequest[] = []

  async function handle ({ url, body }: SandboxRequest): Promise<SandboxReply> {
    if (url.pathname !== '/gateway.do') return NOT_FOUND
    const params = new Map<string, string>(url.searchParams)
    for (const [key, value] of new URLSearchParams(body)) params.set(key, value)

    const method = params.get('method') ?? ''
    const timestamp = params.get('timestamp')
    requests.push({ method, appId: params.get('app_id'), timestamp, timestampMs: timestamp ? parseChinaTime(timestamp) : undefined })
    server.count(method)

    const fault = server.takeFault(method)
    await server.held(fault)
    if (fault?.httpStatus) return htmlReply(fault.httpStatus, '<body>Service Unavailable</body>')
    if (fault?.nonJson) return htmlReply(200, '<head><title>系统繁忙</title></head><body>Busy</body>')

    let node: Node
    let failed = false
    let unsigned = fault?.unsigned ?? false
    try {
      if (fault?.subCode ?? fault?.code) throw new GatewayError(fault.subCode ?? '', fault.msg ?? 'injected fault')
      node = gateway.dispatch(method, params)
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err
      node = err.node(fault)
      failed = true
      unsigned ||= err.unsigned
    }
    if (fault?.fields) node = { ...node, ...fault.fields }
    // oauth.token reports failures in error_response; other methods, and unsigned gateway errors, in the method's own node.
    const key = failed && !unsigned && method !== USER_INFO_SHARE ? 'error_response' : `${method.replaceAll('.', '_')}_response`
    return {
      headers: { 'content-type': 'text/html;charset=utf-8', trace_id: randomBytes(12).toString('hex') },
      body: unsigned ? signer.unsignedEnvelope(key, node) : signer.envelope(key, node, fault)
    }
  }

  const base = await server.listen(handle, options.host, options.port)
  return {
    ...server.face(),
    url: `${base}/gateway.do`,
    publicKey: signer.publicKey,
    requests,
    registerApp: (app) => gateway.registerApp(app),
    issueAuthCode: (user, appId) => gateway.issueAuthCode(user, appId),
    phonePayload: (user = {}, options = {}) => phoneResponse(signer, gateway.aesKeyOf(options.appId), user, options),
    setIdentityMode: (appId, mode) => gateway.setIdentityMode(appId, mode)
  }
}
