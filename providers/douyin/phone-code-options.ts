import { createPrivateKey, type KeyObject } from 'node:crypto'
import { httpTargetOf } from '../common/app-options.js'
import type { HttpTarget } from '../common/json-http.js'

/** Where an app's phone-code calls go, and the key that opens their answers. */
export interface PhoneCodeConfig extends HttpTarget {
  privateKey: KeyObject
}

/** The phone-code part of a douyin app's options: none without a phonePrivateKey. */
export function phoneCodesOf (
  { timeout, phonePrivateKey, openApiBaseUrl }: { timeout?: unknown, phonePrivateKey?: unknown, openApiBaseUrl?: unknown },
  name: (field: string) => string
): { phoneCodes?: PhoneCodeConfig } {
  if (phonePrivateKey === undefined) return {}
  let privateKey: KeyObject | undefined
  try {
    privateKey = typeof phonePrivateKey === 'string' ? createPrivateKey(phonePrivateKey) : undefined
  } catch {}
  // The value is never echoed: it is a secret.
  if (privateKey?.asymmetricKeyType !== 'rsa') throw new TypeError(`${name('phonePrivateKey')} must be the app's RSA private key in PEM (PKCS#1 or PKCS#8)`)
  return { phoneCodes: { ...httpTargetOf({ baseUrl: openApiBaseUrl, timeout }, 'https://open.douyin.com', name, 'openApiBaseUrl'), privateKey } }
}
