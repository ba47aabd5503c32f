import { IssuedCodes, paramsOf } from './issued-codes.js'
import { jsonReply, NOT_FOUND, SandboxServer, type JsonSandboxFault, type Sandbox, type SandboxOptions, type SandboxRequest, type SandboxReply } from './kit.js'
import { OpenDataUsers } from './open-data-users.js'
import type { EncryptedPayload, SignedUserInfo, WechatSandboxUser } from './wechat-user.js'

// A local stand-in for open.kuaishou.com's oauth2/mp/code2session, the one
// endpoint a Kuaishou mini-program login uses: single-use codes that expire,
// a session_key that each ks.login rotates, user info and phone data sealed
// with it (WeChat's scheme), and faults. Kuaishou publishes no error table
// for this endpoint: the `result` values are those docs/kuaishou.md names.

export type KuaishouSandboxEndpoint = 'code2session'

export interface KuaishouSandboxFault extends JsonSandboxFault {
  /** Answer HTTP 200 with this `result` instead of doing the work. */
  result?: number
  errorMsg?: string
}

export interface KuaishouSandboxOptions extends SandboxOptions {
  /** Whether decrypted data carries a watermark (Kuaishou's docs do not say). Default true. */
  watermark?: boolean
}

export type KuaishouSandboxUser = WechatSandboxUser

export interface KuaishouSandbox extends Sandbox<KuaishouSandboxEndpoint, KuaishouSandboxFault> {
  /** Pass it as the kuaishou baseUrl. */
  readonly url: string
  addApp: (appId: string, appSecret: string) => void
  /** Plays ks.login: a code (single use, 5 minutes) and a fresh session_key for the user. */
  login: (user: KuaishouSandboxUser, appId?: string) => { code: string }
  /** The session_key Kuaishou currently holds for the user (the one its client encrypts with). */
  sessionKeyOf: (openId: string, appId?: string) => string
  /** What ks.getUserInfo gives the mini-program: encrypted with the current session_key. */
  userInfo: (openId: string, appId?: string) => SignedUserInfo
  /** What the getPhoneNumber button gives: encrypted with the current session_key. */
  phoneData: (openId: string, appId?: string) => EncryptedPayload
}

const PATH = '/oauth2/mp/code2session'
const CODE_TTL_MS = 5 * 60_000
const KUAISHOU_RESULTS = {
  success: 1,
  /** 参数有误: a missing, bad, spent or expired js_code. */
  badParameter: 100200100,
  /** 验证出错: the app_id or app_secret is wrong. */
  badApp: 100200101
} as const

export async function createKuaishouSandbox (options: KuaishouSandboxOptions = {}): Promise<KuaishouSandbox> {
  const server = new SandboxServer<KuaishouSandboxEndpoint, KuaishouSandboxFault>('Kuaishou sandbox', ['code2session'])
  const now = options.now ?? Date.now
  const users = new OpenDataUsers<KuaishouSandboxUser>('Kuaishou', 'login', options.apps, now, (secret) => server.remember(secret))
  const codes = new IssuedCodes(CODE_TTL_MS, now)

  function exchange ({ app_id: appId, app_secret: secret, js_code: code }: Record<string, string>): Record<string, unknown> {
    if (appId === undefined || users.secretOf(appId) === undefined || users.secretOf(appId) !== secret) return refusal(KUAISHOU_RESULTS.badApp, 'app_id or app_secret error')
    const openId = codes.spend(code, appId)
    if (openId === undefined) return refusal(KUAISHOU_RESULTS.badParameter, 'js_code invalid')
    return { result: KUAISHOU_RESULTS.success, open_id: openId, session_key: users.find(appId, openId)!.sessionKey }
  }

  async function handle ({ method, url, body }: SandboxRequest): Promise<SandboxReply> {
    // What Kuaishou answers an unknown path or a GET is unverified: a 404.
    if (url.pathname !== PATH || method !== 'POST') return NOT_FOUND
    server.count('code2session')
    const fault = server.takeFault('code2session')
    return server.answer(fault, () => jsonReply(fault?.result !== undefined ? refusal(fault.result, fault.errorMsg ?? 'sandbox fault') : exchange(paramsOf(url, body)), fault))
  }

  await server.listen(handle, options.host, options.port)
  return {
    ...server.face(() => users.appSecrets()),
    ...users.face(options.watermark ?? true),
    login: (user, appId) => {
      const id = users.appIdOf(appId)
      // A new session_key at each ks.login: the previous one stops working.
      users.rotate(id, user)
      return { code: codes.issue(id, user.openId) }
    }
  }
}

function refusal (result: number, errorMsg: string): Record<string, unknown> {
  return { result, error: 'invalid_request', error_msg: errorMsg }
}
