import { createCipheriv, createHash, randomBytes } from 'node:crypto'

// A user as the sandbox knows them, and what the WeChat client gives the
// mini-program from their data under a session_key: encrypted user data and
// phone numbers, signed rawData. Independent of the product's AES decryption
// and signature check on purpose: a fake that reuses the code under test
// cannot catch its bugs.

export interface WechatSandboxPhone {
  purePhoneNumber: string
  /** A number is sent as a number: WeChat has done both. */
  countryCode: string | number
  /** Default: purePhoneNumber for 86, else '+<countryCode><purePhoneNumber>'. */
  phoneNumber?: string
}

export interface WechatSandboxProfile {
  nickName: string
  gender: number
  language: string
  city: string
  province: string
  country: string
  avatarUrl: string
}

export interface WechatSandboxUser {
  openId: string
  unionId?: string
  /** A mainland number as a string, or any number with its country code. */
  phone?: string | WechatSandboxPhone
  profile?: Partial<WechatSandboxProfile>
}

export interface EncryptedPayload {
  encryptedData: string
  iv: string
}

export interface SignedUserInfo extends EncryptedPayload {
  rawData: string
  signature: string
  /** What decryption yields. */
  userInfo: Record<string, unknown>
}

/** AES-128-CBC with PKCS#7 under a session_key, as the WeChat client encrypts user data. */
export function encryptData (data: string | object, sessionKey: string, iv: string = randomBytes(16).toString('base64')): EncryptedPayload {
  const plain = typeof data === 'string' ? data : JSON.stringify(data)
  const cipher = createCipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), Buffer.from(iv, 'base64'))
  return { encryptedData: Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]).toString('base64'), iv }
}

/** hex(sha1(rawData + session_key)), the signature wx.getUserInfo gives. */
export function signRawData (rawData: string, sessionKey: string): string {
  return createHash('sha1').update(rawData + sessionKey, 'utf8').digest('hex')
}

const DEFAULT_PROFILE: WechatSandboxProfile = {
  nickName: 'Sandbox User', gender: 0, language: 'zh_CN', city: '', province: '', country: '', avatarUrl: ''
}

export interface Watermark {
  timestamp: number
  appid: string
}

/** What wx.getUserInfo gives: the profile as rawData, signed, and encrypted with the watermark. */
export function signedUserInfo (user: WechatSandboxUser, sessionKey: string, watermark: Watermark): SignedUserInfo {
  const profile = { ...DEFAULT_PROFILE, ...user.profile }
  const rawData = JSON.stringify(profile)
  const userInfo = { openId: user.openId, ...profile, ...(user.unionId ? { unionId: user.unionId } : {}), watermark }
  return { ...encryptData(userInfo, sessionKey), rawData, signature: signRawData(rawData, sessionKey), userInfo }
}

/** The phone number fields WeChat gives, from a user's phone. */
export function phoneOf (phone: string | WechatSandboxPhone): WechatSandboxPhone & { phoneNumber: string } {
  const { purePhoneNumber, countryCode } = typeof phone === 'string' ? { purePhoneNumber: phone, countryCode: '86' } : phone
  const phoneNumber = (typeof phone === 'string' ? undefined : phone.phoneNumber) ??
    (String(countryCode) === '86' ? purePhoneNumber : `+${countryCode}${purePhoneNumber}`)
  return { phoneNumber, purePhoneNumber, countryCode }
}
