import { createPrivateKey, createPublicKey, createSecretKey, X509Certificate, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'

// Reading the keys and certificates people paste from the Alipay open
// platform: PEM or bare base64, PKCS1 or PKCS8, strings or Buffers.
// Messages name the option and never echo a key.

export type KeyInput = string | Buffer

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
export function parsePrivateKey (value: unknown, option: string): KeyObject {
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
export function parsePublicKey (value: unknown, option: string): KeyObject {
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

/**
 * The content-encryption key (接口内容加密方式 → AES密钥): base64 of 16 bytes,
 * as the open platform shows it. A KeyObject, so no log or JSON shows it.
 */
export function parseAesKey (value: unknown, option: string): KeyObject {
  const text = typeof value === 'string' ? value.trim() : undefined
  if (text === undefined || !/^[A-Za-z0-9+/]{22}==$/.test(text)) {
    throw new TypeError(`${option} must be the app's AES key (接口内容加密方式) as the Alipay open platform shows it: 24 characters of base64 (16 bytes)`)
  }
  return createSecretKey(Buffer.from(text, 'base64'))
}

/** A certificate's PEM from its content option or, failing that, its path option. */
export function readCertificate (content: unknown, path: unknown, option: string): string | undefined {
  if (content !== undefined && content !== null) return textOf(content, `${option}Content`)
  if (path === undefined || path === null) return undefined
  if (typeof path !== 'string') throw new TypeError(`${option}Path must be a file path`)
  try {
    return readFileSync(path, 'utf8').trim()
  } catch (err) {
    throw new TypeError(`${option}Path: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}

export function parseCertificate (pem: string, option: string): X509Certificate {
  try {
    return new X509Certificate(pem)
  } catch {
    throw new TypeError(`${option} is not a PEM certificate`)
  }
}
