import { createDecipheriv, createHash, timingSafeEqual } from 'node:crypto'
import { BadEncryptedDataError, SessionKeyExpiredError, SignatureMismatchError, WatermarkMismatchError } from '../errors.js'

// The mini-program "open data" scheme WeChat started and QQ and Douyin
// copied: user data encrypted with AES-128-CBC under the session_key, checked
// by its watermark, and the rawData signature. Pure: no I/O.

export interface PhoneNumber {
  /** With the country code for numbers outside mainland China. */
  phoneNumber: string
  purePhoneNumber: string
  countryCode: string
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

function strictBase64 (value: string, field: string): Buffer {
  if (value.includes(' ')) {
    throw new BadEncryptedDataError(`${field} contains a space: a '+' was probably turned into a space by form or URL decoding on the way; send the value exactly as the platform gave it, in a JSON body`)
  }
  if (!BASE64.test(value)) throw new BadEncryptedDataError(`${field} is not base64`)
  return Buffer.from(value, 'base64')
}

/** The iv and ciphertext of open data, checked: a malformed one is the client's 400, not a rotated key. */
export function cipherInputs (encryptedData: string, iv: string): { data: Buffer, iv: Buffer } {
  const ivBytes = strictBase64(iv, 'iv')
  if (ivBytes.length !== 16) throw new BadEncryptedDataError(`iv must be 16 bytes (got ${ivBytes.length})`)
  const data = strictBase64(encryptedData, 'encryptedData')
  if (data.length === 0 || data.length % 16 !== 0) throw new BadEncryptedDataError('encryptedData must be a non-empty multiple of 16 bytes')
  return { data, iv: ivBytes }
}

const KEY_BYTES = { 'aes-128-cbc': 16, 'aes-192-cbc': 24 }

/**
 * AES-CBC with PKCS#7 under a base64 session_key. A key of the wrong size, or
 * well-formed data the key cannot open (bad padding): the data was sealed
 * with another session_key, 401 MPA_SESSION_KEY_EXPIRED.
 */
export function openCbc (algorithm: keyof typeof KEY_BYTES, sessionKey: string, iv: Buffer, data: Buffer): Buffer {
  const key = Buffer.from(sessionKey, 'base64')
  if (key.length !== KEY_BYTES[algorithm]) throw new SessionKeyExpiredError()
  try {
    const decipher = createDecipheriv(algorithm, key, iv)
    return Buffer.concat([decipher.update(data), decipher.final()])
  } catch {
    throw new SessionKeyExpiredError()
  }
}

/**
 * How decrypted data must name its app: WeChat, QQ and Douyin document a
 * watermark, always checked; Kuaishou's docs do not promise one, so its data
 * is checked when it has one.
 */
export type WatermarkRule = 'required' | 'when-present'

/** AES-128-CBC decryption of user info / legacy phone data; checks watermark.appid. */
export function decrypt (sessionKey: string, encryptedData: string, iv: string, appId: string, watermarkRule: WatermarkRule = 'required'): Record<string, unknown> {
  const { data, iv: ivBytes } = cipherInputs(encryptedData, iv)
  let plain: unknown
  try {
    plain = JSON.parse(openCbc('aes-128-cbc', sessionKey, ivBytes, data).toString('utf8'))
  } catch {
    // Garbage that is not JSON: it was encrypted with another session_key.
    throw new SessionKeyExpiredError()
  }
  if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) throw new SessionKeyExpiredError()
  const watermark = (plain as { watermark?: { appid?: unknown } }).watermark
  if (watermark === undefined && watermarkRule === 'when-present') return plain as Record<string, unknown>
  if (watermark?.appid !== appId) throw new WatermarkMismatchError()
  return plain as Record<string, unknown>
}

/** Checks signature = sha1(rawData + session_key); MPA_SIGNATURE_MISMATCH otherwise. */
export function verifyRawData (rawData: string, signature: string, sessionKey: string): void {
  const expected = createHash('sha1').update(rawData + sessionKey, 'utf8').digest()
  const given = /^[0-9a-fA-F]{40}$/.test(signature) ? Buffer.from(signature, 'hex') : null
  if (!given || !timingSafeEqual(expected, given)) throw new SignatureMismatchError()
}

/** phone_info, or decrypted phone data, with countryCode always a string (WeChat has sent both); null when incomplete. */
export function phoneNumberOf (info: Record<string, unknown>): PhoneNumber | null {
  const { phoneNumber, purePhoneNumber, countryCode } = info
  if (typeof phoneNumber !== 'string' || typeof purePhoneNumber !== 'string' || (typeof countryCode !== 'string' && typeof countryCode !== 'number')) {
    return null
  }
  return { phoneNumber, purePhoneNumber, countryCode: String(countryCode) }
}
