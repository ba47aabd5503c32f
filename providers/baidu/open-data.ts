import { SessionKeyExpiredError, WatermarkMismatchError } from '../../errors.js'
import { cipherInputs, openCbc, type PhoneNumber } from '../../lib/open-data.js'
import type { OpenDataScheme } from '../common/session-data.js'

// Baidu's open data is not WeChat's: AES-192-CBC under a 24-byte session_key,
// and the plaintext is 16 random bytes, the data's length (4 bytes, big
// endian), the data, then the app's App Key, which names the app as WeChat's
// watermark does. Pure: no I/O.

const RANDOM_BYTES = 16
const LENGTH_BYTES = 4

/** Decrypts swan's open data and checks it ends with the app's App Key. */
export function decryptBaidu (sessionKey: string, encryptedData: string, iv: string, appKey: string): Record<string, unknown> {
  const { data, iv: ivBytes } = cipherInputs(encryptedData, iv)
  const plain = openCbc('aes-192-cbc', sessionKey, ivBytes, data)
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
function baiduPhoneOf ({ mobile }: Record<string, unknown>): PhoneNumber | null {
  return typeof mobile === 'string' && mobile !== '' ? { phoneNumber: mobile, purePhoneNumber: mobile, countryCode: '86' } : null
}

export const BAIDU_SCHEME: OpenDataScheme = { decrypt: decryptBaidu, phoneOf: baiduPhoneOf }
