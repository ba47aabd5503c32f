import { randomBytes } from 'node:crypto'
import { encryptData, phoneOf, signedUserInfo, type EncryptedPayload, type SignedUserInfo, type Watermark, type WechatSandboxUser } from './wechat-user.js'

// What every sandbox of a platform in WeChat's "open data" family (WeChat, QQ,
// Douyin, and the like) remembers the same way: its apps and their secrets,
// and each user's current session_key, which every login rotates and which
// seals the user info and phone data the mini-program is handed.

interface UserState<User> {
  user: User
  sessionKey: string
}

const userKey = (appId: string, openId: string): string => `${appId}\n${openId}`

export class OpenDataUsers<User extends WechatSandboxUser> {
  private readonly apps = new Map<string, string>()
  private readonly users = new Map<string, UserState<User>>()

  /**
   * `platform` starts error messages, `loginCall` names the sandbox call that
   * logs a user in; `remember` notes each secret handed out, for leak checks;
   * `keyBytes` is the session_key's size (16, AES-128; Baidu's is 24).
   */
  constructor (
    private readonly platform: string,
    private readonly loginCall: string,
    apps: Record<string, string> | undefined,
    private readonly now: () => number,
    private readonly remember: (secret: string) => string,
    private readonly keyBytes = 16
  ) {
    for (const [appId, secret] of Object.entries(apps ?? {})) this.addApp(appId, secret)
  }

  addApp (appId: string, appSecret: string): void {
    this.apps.set(appId, appSecret)
  }

  /** The secrets of the apps the platform knows (issued ones go to `remember`). */
  appSecrets (): string[] {
    return [...this.apps.values()]
  }

  secretOf (appId: string): string | undefined {
    return this.apps.get(appId)
  }

  /** The app a call names, or the first one. */
  appIdOf (appId?: string): string {
    const id = appId ?? this.apps.keys().next().value
    if (id === undefined || !this.apps.has(id)) throw new Error(`${this.platform} sandbox: unknown app ${JSON.stringify(id)}; addApp(appId, secret) first`)
    return id
  }

  /** A login: the user's new session_key (the previous one stops working). */
  rotate (appId: string, user: User): string {
    const sessionKey = this.remember(randomBytes(this.keyBytes).toString('base64'))
    this.users.set(userKey(appId, user.openId), { user, sessionKey })
    return sessionKey
  }

  /** The user and current session_key of an openid that logged in, or undefined. */
  find (appId: string, openId: string): UserState<User> | undefined {
    return this.users.get(userKey(appId, openId))
  }

  stateOf (openId: string, appId?: string): UserState<User> & { appId: string } {
    const id = this.appIdOf(appId)
    const state = this.find(id, openId)
    if (!state) throw new Error(`${this.platform} sandbox: ${openId} never logged in to ${id}; ${this.loginCall}() first`)
    return { ...state, appId: id }
  }

  watermark (appId: string): Watermark {
    return { timestamp: Math.floor(this.now() / 1000), appid: appId }
  }

  /** What the platform's getUserInfo gives: sealed with the current session_key, with a watermark or without. */
  userInfo (openId: string, appId: string | undefined, watermarked: boolean): SignedUserInfo {
    const { user, sessionKey, appId: id } = this.stateOf(openId, appId)
    const signed = signedUserInfo(user, sessionKey, this.watermark(id))
    if (watermarked) return signed
    const { watermark, ...userInfo } = signed.userInfo
    return { ...signed, ...encryptData(userInfo, sessionKey), userInfo }
  }

  /** The sandbox members of every platform of the family, bound. */
  face (watermarked: boolean) {
    return {
      addApp: (appId: string, appSecret: string) => this.addApp(appId, appSecret),
      /** The session_key the platform currently holds for the user (the one its client encrypts with). */
      sessionKeyOf: (openId: string, appId?: string) => this.stateOf(openId, appId).sessionKey,
      userInfo: (openId: string, appId?: string) => this.userInfo(openId, appId, watermarked),
      phoneData: (openId: string, appId?: string) => this.phoneData(openId, appId, watermarked)
    }
  }

  /** What the encrypted-data phone button gives: sealed with the current session_key. */
  phoneData (openId: string, appId: string | undefined, watermarked: boolean): EncryptedPayload {
    const { user, sessionKey, appId: id } = this.stateOf(openId, appId)
    if (!user.phone) throw new Error(`${this.platform} sandbox: ${openId} has no phone number`)
    return encryptData({ ...phoneOf(user.phone), ...(watermarked ? { watermark: this.watermark(id) } : {}) }, sessionKey)
  }
}
