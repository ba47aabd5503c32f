import { createPublicKey, type KeyObject } from 'node:crypto'
import type { AlipaySdkConfig } from 'alipay-sdk'
import { appOptionsOf } from '../../lib/apps.js'
import { parseDuration } from '../../lib/duration.js'
import { parseAesKey, parseCertificate, parsePrivateKey, parsePublicKey, readCertificate, type KeyInput } from './keys.js'
import { VerifyingAlipaySdk } from './sdk.js'
import { CERTIFICATE_PROBLEM } from './sub-codes.js'

export interface AlipayAppOptions {
  /** The mini-program's appId on the Alipay open platform. */
  appId: string
  /** The app private key (应用私钥): PEM or bare base64, PKCS1 or PKCS8; detected from the key. */
  privateKey: KeyInput
  /** Key mode: the Alipay public key (支付宝公钥), not your app public key. */
  alipayPublicKey?: KeyInput
  /** Default Alipay's production gateway. */
  gateway?: string
  /**
   * The AES key (接口内容加密方式) set for the app on the open platform, base64:
   * what opens my.getPhoneNumber's payloads. Without it the app's phone route
   * answers 500 MPA_MISCONFIGURED.
   */
  aesKey?: string
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

/** One app, ready to call: its alipay-sdk client verifies every response and reports an unsigned one with its body. */
export interface AlipayApp {
  appId: string
  sdk: VerifyingAlipaySdk
  timeoutMs: number
  /** What Alipay signs with for this app: the Alipay public key, or the key of alipayPublicCert. */
  alipayPublicKey: KeyObject
  aesKey?: KeyObject
}

const DEFAULT_GATEWAY = 'https://openapi.alipay.com/gateway.do'

/** Validates the `alipay` option (one app or several) and builds each app's client. */
export function alipayAppsOf (apps: AlipayAppOptions | AlipayAppOptions[] | undefined): AlipayApp[] {
  return appOptionsOf(apps, 'alipay').map(({ options, name }) => alipayAppOf(options, name))
}

/** Validates one app's options and builds its alipay-sdk client. Messages name the option. */
export function alipayAppOf (options: AlipayAppOptions, name: string): AlipayApp {
  const { appId } = options
  if (typeof appId !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(appId)) {
    throw new TypeError(`${name}.appId must be the app's id on the Alipay open platform (got ${JSON.stringify(appId)})`)
  }
  const privateKey = parsePrivateKey(options.privateKey, `${name}.privateKey`)
  const gateway = options.gateway ?? DEFAULT_GATEWAY
  if (typeof gateway !== 'string' || !/^https?:\/\/[^/]/.test(gateway)) {
    throw new TypeError(`${name}.gateway must be an http(s) URL (got ${JSON.stringify(options.gateway)})`)
  }
  const timeoutMs = parseDuration(options.timeout ?? '5s', `${name}.timeout`)
  const aesKey = options.aesKey === undefined ? undefined : parseAesKey(options.aesKey, `${name}.aesKey`)
  const config: AlipaySdkConfig = {
    appId,
    // PKCS8 base64 whatever the user gave: alipay-sdk wraps it in the PEM lines keyType names.
    privateKey: privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
    keyType: 'PKCS8',
    gateway,
    timeout: timeoutMs
  }

  const appCert = readCertificate(options.appCertContent, options.appCertPath, `${name}.appCert`)
  const rootCert = readCertificate(options.alipayRootCertContent, options.alipayRootCertPath, `${name}.alipayRootCert`)
  const publicCert = readCertificate(options.alipayPublicCertContent, options.alipayPublicCertPath, `${name}.alipayPublicCert`)
  const certificateMode = appCert !== undefined || rootCert !== undefined || publicCert !== undefined
  const ownPublicKey = createPublicKey(privateKey)
  let alipayPublicKey: KeyObject

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
    alipayPublicKey = parseCertificate(publicCert, `${name}.alipayPublicCertContent`).publicKey
    parseCertificate(rootCert, `${name}.alipayRootCertContent`)
    Object.assign(config, { appCertContent: appCert, alipayRootCertContent: rootCert, alipayPublicCertContent: publicCert })
  } else {
    if (options.alipayPublicKey === undefined) {
      throw new TypeError(`${name}.alipayPublicKey is required (or certificate mode): Alipay responses are always verified`)
    }
    alipayPublicKey = parsePublicKey(options.alipayPublicKey, `${name}.alipayPublicKey`)
    if (alipayPublicKey.equals(ownPublicKey)) {
      throw new TypeError(`${name}.alipayPublicKey is your app public key: it must be the Alipay public key (支付宝公钥) shown next to it on the open platform`)
    }
    config.alipayPublicKey = alipayPublicKey.export({ type: 'spki', format: 'der' }).toString('base64')
  }

  try {
    return { appId, sdk: new VerifyingAlipaySdk(config, { privateKey, alipayPublicKey }), timeoutMs, alipayPublicKey, ...(aesKey ? { aesKey } : {}) }
  } catch {
    throw new TypeError(`${name}: alipay-sdk cannot read the certificates: ${CERTIFICATE_PROBLEM}`)
  }
}
