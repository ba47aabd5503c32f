import { createCipheriv, randomBytes } from 'node:crypto'
import { IssuedCodes, paramsOf } from './issued-codes.js'
import { jsonReply, NOT_FOUND, SandboxServer, type JsonSandboxFault, type Sandbox, type SandboxOptions, type SandboxRequest, type SandboxReply } from './kit.js'
import { OpenDataUsers } from './open-data-users.js'
import type { EncryptedPayload, WechatSandboxUser } from './wechat-user.js'

// A local stand-in for spapi.baidu.com's oauth/jscode2sessionkey: single-use
// codes from swan.getLoginCode, a 24-byte session_key per user that each
// login rotates, and Baidu's own open-data sealing (AES-192-CBC over 16
// random bytes, the data's length, the data and the App Key), with faults.
// Independent of the product's decryption on purpose.

export type BaiduSandboxEndpoint = 'jscode2sessionkey'

export interface BaiduSandboxFault extends JsonSandboxFault {
  /** Answer HTTP 200 with this OAuth error ('invalid_grant', 'invalid_client', …) instead of doing the work. */
  error?: string
  errno?: number
}

export interface BaiduSandboxUser extends Pick<WechatSandboxUser, 'openId'> {
  /** A mainland mobile number. */
  phone?: string
  nickname?: string
}

export interface BaiduSandbox extends Sandbox<BaiduSandboxEndpoint, BaiduSandboxFault> {
  /** Pass it as the baidu baseUrl. */
  readonly url: string
  /** An app by its App Key (client_id) and App Secret (sk). */
  addApp: (appKey: string, appSecret: string) => void
  /** Plays swan.getLoginCode: a code (single use) and a fresh session_key for the user. */
  login: (user: BaiduSandboxUser, appKey?: string) => { code: string }
  /** The session_key Baidu currently holds for the user. */
  sessionKeyOf: (openId: string, appKey?: string) => string
  /** What swan.getUserInfo gives (its `data` and `iv`, sent as encryptedData and iv), and what it decrypts to. */
  userInfo: (openId: string, appKey?: string) => EncryptedPayload & { userInfo: Record<string, unknown> }
  /** What the getPhoneNumber button gives: `{ mobile }` sealed with the current session_key. */
  phoneData: (openId: string, appKey?: string) => EncryptedPayload
}

const PATH = '/oauth/jscode2sessionkey'
// Baidu documents no lifetime for these codes: WeChat's 5 minutes is the sandbox's.
const CODE_TTL_MS = 5 * 60_000
// Baidu's documented answer to a request that misses a parameter.
const PARAMETER_INVALID = 10010100

/** Baidu's sealing of open data under a session_key, for an app's App Key. */
export function sealBaiduData (data: object, sessionKey: string, appKey: string): EncryptedPayload {
  const json = Buffer.from(JSON.stringify(data), 'utf8')
  const length = Buffer.alloc(4)
  length.writeUInt32BE(json.length)
  const iv = randomBytes(16)
  const cipher = createCipheriv('aes-192-cbc', Buffer.from(sessionKey, 'base64'), iv)
  const plain = Buffer.concat([randomBytes(16), length, json, Buffer.from(appKey, 'utf8')])
  return { encryptedData: Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64'), iv: iv.toString('base64') }
}

export async function createBaiduSandbox (options: SandboxOptions = {}): Promise<BaiduSandbox> {
  const server = new SandboxServer<BaiduSandboxEndpoint, BaiduSandboxFault>('Baidu sandbox', ['jscode2sessionkey'])
  const now = options.now ?? Date.now
  const users = new OpenDataUsers<BaiduSandboxUser>('Baidu', 'login', options.apps, now, (secret) => server.remember(secret), 24)
  const codes = new IssuedCodes(CODE_TTL_MS, now)

  function exchange ({ code, client_id: appKey, sk }: Record<string, string>): Record<string, unknown> {
    for (const [name, value] of [['Code', code], ['ClientID', appKey], ['Sk', sk]] as const) {
      if (!value) return { errno: PARAMETER_INVALID, error: 'parameter is invalid', error_description: `Key: 'Code2SessionKeyParam.${name}' Error:Field validation for '${name}' failed on the 'required' tag` }
    }
    if (users.secretOf(appKey!) === undefined || users.secretOf(appKey!) !== sk) return { error: 'invalid_client', error_description: 'unknown client id or wrong secret key' }
    const openId = codes.spend(code, appKey!)
    if (openId === undefined) return { error: 'invalid_grant', error_description: 'Invalid authorization code' }
    return { openid: openId, session_key: users.find(appKey!, openId)!.sessionKey }
  }

  async function handle ({ method, url, body }: SandboxRequest): Promise<SandboxReply> {
    // What Baidu answers an unknown path or a GET is unverified: a 404.
    if (url.pathname !== PATH || method !== 'POST') return NOT_FOUND
    server.count('jscode2sessionkey')
    const fault = server.takeFault('jscode2sessionkey')
    const refused = fault?.error !== undefined || fault?.errno !== undefined
    return server.answer(fault, () => jsonReply(refused ? { errno: fault.errno, error: fault.error, error_description: 'sandbox fault' } : exchange(paramsOf(url, body)), fault))
  }

  function userInfo (openId: string, appKey?: string) {
    const { user, sessionKey, appId } = users.stateOf(openId, appKey)
    const info = { openid: openId, nickname: user.nickname ?? 'Sandbox User', headimgurl: '', sex: 0 }
    return { ...sealBaiduData(info, sessionKey, appId), userInfo: info }
  }

  function phoneData (openId: string, appKey?: string): EncryptedPayload {
    const { user, sessionKey, appId } = users.stateOf(openId, appKey)
    if (!user.phone) throw new Error(`Baidu sandbox: ${openId} has no phone number`)
    return sealBaiduData({ mobile: user.phone }, sessionKey, appId)
  }

  await server.listen(handle, options.host, options.port)
  return {
    ...server.face(() => users.appSecrets()),
    addApp: (appKey, appSecret) => users.addApp(appKey, appSecret),
    sessionKeyOf: (openId, appKey) => users.stateOf(openId, appKey).sessionKey,
    userInfo,
    phoneData,
    login: (user, appKey) => {
      const id = users.appIdOf(appKey)
      users.rotate(id, user)
      return { code: codes.issue(id, user.openId) }
    }
  }
}
