import type { FastifyBaseLogger } from 'fastify'
import { BadEncryptedDataError, SessionKeyExpiredError } from '../../errors.js'
import { decrypt, phoneNumberOf, verifyRawData, type PhoneNumber, type WatermarkRule } from '../../lib/open-data.js'
import type { LatestSessionKeys } from '../../store/latest-session-keys.js'
import type { Session } from '../../types.js'

/** What getUserInfo gives the mini-program; rawData and signature go together. */
export interface UserInfoPayload {
  encryptedData: string
  iv: string
  rawData?: string
  signature?: string
}

/** What the legacy getPhoneNumber button gives. */
export interface EncryptedPayload {
  encryptedData: string
  iv: string
}

/** How a platform seals its open data: its decryption (which checks the data names the app), and where decrypted data keeps a phone number. */
export interface OpenDataScheme {
  decrypt: (sessionKey: string, encryptedData: string, iv: string, appId: string) => Record<string, unknown>
  phoneOf: (data: Record<string, unknown>) => PhoneNumber | null
}

/** WeChat's scheme, which QQ, Douyin and Kuaishou copied: AES-128-CBC, the app in a watermark. */
function wechatScheme (watermark: WatermarkRule): OpenDataScheme {
  return { decrypt: (sessionKey, encryptedData, iv, appId) => decrypt(sessionKey, encryptedData, iv, appId, watermark), phoneOf: phoneNumberOf }
}

/**
 * The open data a session's client sends (user info, phone numbers), for the
 * platforms whose login rotates a session_key (WeChat, QQ, Douyin): each
 * login records the key it gave as the openid's latest, and data opens with
 * that key, else with the session's own.
 */
export class SessionOpenData {
  private readonly scheme: OpenDataScheme

  /** `scheme`: a watermark rule for WeChat's scheme, or a platform's own (Baidu's). */
  constructor (private readonly records: LatestSessionKeys, scheme: WatermarkRule | OpenDataScheme = 'required') {
    this.scheme = typeof scheme === 'string' ? wechatScheme(scheme) : scheme
  }

  /**
   * After a login: the session_key the platform just gave becomes the
   * openid's latest. Not waited for: the write travels beside the login's
   * next round trip to Redis (the session's own). Should it fail, the
   * session still opens its data with its own key.
   */
  remember (appId: string, openId: string, sessionKey: string, log: FastifyBaseLogger): void {
    this.records.remember(appId, openId, sessionKey).catch((err: unknown) => {
      log.warn({ err }, 'the latest session_key of this openid was not recorded: other sessions of the user may ask it to log in again to open its data')
    })
  }

  /** Decrypted data, and the key that opened it (for the rawData signature). */
  async open (session: Session, encryptedData: string, iv: string): Promise<{ data: Record<string, unknown>, sessionKey: string }> {
    const { appId, openId } = session
    const latest = openId ? await this.records.latest(appId, openId) : null
    // The latest key first; then the session's own, for data the client
    // captured before a later login rotated the key.
    const keys = [...new Set([latest, session.secrets.sessionKey].filter((key): key is string => Boolean(key)))]
    for (const [i, sessionKey] of keys.entries()) {
      try {
        return { data: this.scheme.decrypt(sessionKey, encryptedData, iv, appId), sessionKey }
      } catch (err) {
        if (!(err instanceof SessionKeyExpiredError) || i === keys.length - 1) throw err
      }
    }
    // No key at all (a session without one, such as a Douyin anonymous login).
    throw new SessionKeyExpiredError()
  }

  /** A session's decrypted user info; with rawData and signature, the signature is checked too. */
  async userInfo (session: Session, { encryptedData, iv, rawData, signature }: UserInfoPayload): Promise<Record<string, unknown>> {
    // Decrypt first: a rotated key then gives the "log in again" 401, not a signature error.
    const { data, sessionKey } = await this.open(session, encryptedData, iv)
    if (rawData !== undefined && signature !== undefined) verifyRawData(rawData, signature, sessionKey)
    return data
  }

  /** A session's phone number from encrypted data. */
  async phoneNumber (session: Session, { encryptedData, iv }: EncryptedPayload): Promise<PhoneNumber> {
    const phone = this.scheme.phoneOf((await this.open(session, encryptedData, iv)).data)
    if (!phone) throw new BadEncryptedDataError('it holds no phone number')
    return phone
  }
}
