import { createPublicKey, createSign, createVerify, X509Certificate, type KeyObject } from 'node:crypto'
import { certificateSn, generateRsaKeyPair, rootCertificateSn, toPrivateKey, toPublicKey } from './keys.js'

// Alipay's RSA2 both ways: the string a request signature covers, and the
// signed envelope every answer (error_response included) comes in, but for
// gateway errors about an app it does not know, which it cannot sign.
// Independent of alipay-sdk's signing (what the product calls) on purpose: a
// fake that reuses the code under test cannot catch its bugs.

export type Node = Record<string, unknown>

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
  'isv.invalid-auth-relations': ['40003', 'Insufficient Conditions'],
  'isv.missing-encrypt-key': ['40001', 'Missing Required Arguments'],
  'isv.missing-default-signature-type': ['40001', 'Missing Required Arguments'],
  'isv.invalid-encrypt': ['40002', 'Invalid Arguments'],
  'aop.invalid-auth-token': ['20001', 'Insufficient Token Permissions'],
  'aop.auth-token-time-out': ['20001', 'Insufficient Token Permissions'],
  'isp.unknow-error': ['20000', 'Service Currently Unavailable'],
  'aop.unknow-error': ['20000', 'Service Currently Unavailable']
}

/**
 * A refusal by the gateway: answered as a signed error node, or, when
 * `unsigned` (the gateway does not know the app, so has no key pair to sign
 * with), as an unsigned one in the method's own node.
 */
export class GatewayError extends Error {
  readonly unsigned: boolean

  constructor (readonly subCode: string, readonly subMsg: string, options: { unsigned?: boolean } = {}) {
    super(subMsg)
    this.unsigned = options.unsigned ?? false
  }

  /** The error node: the sub_code's usual code and msg unless given. */
  node (given: { code?: string, msg?: string } = {}): Node {
    const [code, msg] = ERRORS[this.subCode] ?? ['40004', 'Business Failed']
    return { code: given.code ?? code, msg: given.msg ?? msg, sub_code: this.subCode, sub_msg: this.subMsg }
  }
}

/** The string a request's sign covers: every non-empty parameter but sign, sorted by name. */
export function signatureContent (params: Map<string, string>): string {
  return [...params]
    .filter(([key, value]) => key !== 'sign' && value !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&')
}

export function verifySignature (content: string, sign: string, publicKey: KeyObject): boolean {
  return createVerify('RSA-SHA256').update(content, 'utf8').verify(publicKey, sign, 'base64')
}

export interface SignerOptions {
  /** The sandbox's own ("Alipay") key pair; generated when absent. */
  keyPair?: { privateKey: string | Buffer, publicKey: string | Buffer }
  /** Certificate mode: the certificate of keyPair's public key, and the root bundle. */
  certificates?: { alipayPublicCert: string | Buffer, alipayRootCert: string | Buffer }
}

/** How an answer is tampered with, for fault injection. */
export interface EnvelopeFaults {
  badSignature?: boolean
  missingSignature?: boolean
}

/** The sandbox's side of the signatures: its key pair and, in certificate mode, its SNs. */
export class AlipaySigner {
  /** PEM (SPKI): what apps pass as alipayPublicKey. */
  readonly publicKey: string
  readonly alipayCertSn: string | undefined
  readonly rootCertSn: string | undefined
  private readonly privateKey: KeyObject

  constructor (options: SignerOptions) {
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
  }

  /** SHA256withRSA over the UTF-8 bytes of `content`, base64: how Alipay signs everything it sends. */
  sign (content: string): string {
    return createSign('RSA-SHA256').update(content, 'utf8').sign(this.privateKey, 'base64')
  }

  /** The response body, signed over the exact bytes of the node as emitted. */
  envelope (key: string, node: Node, faults: EnvelopeFaults = {}): string {
    const nodeJson = emit(node)
    const sign = this.sign(nodeJson)
    const emitted = faults.badSignature ? nodeJson.replace('{', '{"tampered":"1",') : nodeJson
    let body = `{"${key}":${emitted}`
    if (this.alipayCertSn) body += `,"alipay_cert_sn":"${this.alipayCertSn}"`
    if (!faults.missingSignature) body += `,"sign":"${sign}"`
    return `${body}}`
  }

  /** The body of an answer the gateway cannot sign: the node alone, no sign, no alipay_cert_sn. */
  unsignedEnvelope (key: string, node: Node): string {
    return `{"${key}":${emit(node)}}`
  }
}

// Alipay escapes '/' (avatar URLs): the SDK must verify the bytes as sent.
function emit (node: Node): string {
  return JSON.stringify(node).replaceAll('/', '\\/')
}
