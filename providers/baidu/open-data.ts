import { createDecipheriv } from 'node:crypto'
import { BadEncryptedDataError, SessionKeyExpiredError, WatermarkMismatchError } from '../../errors.js'
import type { PhoneNumber } from '../../lib/open-data.js'
import type { OpenDataScheme } from '../common/session-data.js'

// Baidu's open data is not WeChat's: AES-192-CBC under a 24-byte session_key,
// and the plaintext is 16 random bytes, the data's length (4 bytes, big
// endian), the data, then the app's App Key, which names the app as WeChat's
// watermark does. Pure: no I/O.

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const RANDOM_BYTES = 16
const LENGTH_BYTES = 4

function base64Field (value: string, field: string): Buffer {
  if (!BASE64.test(value)) throw new BadEncryptedDataError(`${field} is not base64`)
  return Buffer.from(value, 'base64')
}

/** Decrypts swan's open data and checks it ends with the app's App Key. */
export function decryptBaidu (sessionKey: string, encryptedData: string, iv: string, appKey: string): Record<string, unknown> {
  const ivBytes = base64Field(iv, 'iv')
  if (ivBytes.length !== 16) throw new BadEncryptedDataError(`iv must be 16 bytes (got ${ivBytes.length})`)
  const data = base64Field(encryptedData, 'encryptedData')
  if (data.length === 0 || data.length % 16 !== 0) throw new BadEncryptedDataError('encryptedData must be a non-empty multiple of 16 bytes')
  const key = Buffer.from(sessionKey, 'base64')
  if (key.length !== 24) throw new SessionKeyExpiredError()
  let plain: Buffer
  try {
    const decipher = createDecipheriv('aes-192-cbc', key, ivBytes)
    plain = Buffer.concat([decipher.update(data), decipher.final()])
  } catch {
    // Bad padding: encrypted under another session_key.
    throw new SessionKeyExpiredError()
  }
  if (plain.length < RANDOM_BYTES + LENGTH_BYTES) throw new SessionKeyExpiredError()
  const length = plain.readUInt32BE(RANDOM_BYTES)
  const start = RANDOM_BYTES + LENGTH_BYTES
  if (start + length > plain.length) throw new SessionKeyExpiredError()
  let parsed: unknown
  try {
    parsed = JSON.parse(plain.subarray(start, start + length).toString('utf8'))
  } catch {
    throw new SessionKeyExpiredError()
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SessionKeyExpiredError()
  if (plain.subarray(start + length).toString('utf8') !== appKey) throw new WatermarkMismatchError()
  return parsed as Record<string, unknown>
}

/** The getPhoneNumber button's data holds only `mobile` (a mainland number, docs/baidu.md). */
export function baiduPhoneOf ({ mobile }: Record<string, unknown>): PhoneNumber | null {
  return typeof mobile === 'string' && mobile !== '' ? { phoneNumber: mobile, purePhoneNumber: mobile, countryCode: '86' } : null
}

export const BAIDU_SCHEME: OpenDataScheme = { decrypt: decryptBaidu, phoneOf: baiduPhoneOf }
