import { jsonReply as json, SandboxServer, type JsonSandboxFault, type Sandbox, type SandboxOptions, type SandboxRequest, type SandboxReply } from './kit.js'
import { errorAnswer, INVALID_URL, ROUTES, WRONG_METHOD, wechatRoutes, type WechatRouteTable, type WechatSandboxEndpoint } from './wechat-routes.js'
import { WechatState } from './wechat-state.js'
import type { EncryptedPayload, SignedUserInfo, WechatSandboxUser } from './wechat-user.js'

// A local stand-in for api.weixin.qq.com with the endpoints mini-program login
// uses. It keeps WeChat's state rules (single-use codes, session_key rotation,
// token lifetimes, forced refreshes 20 a day and 30 s apart) so tests
// exercise the real flows, and it injects faults.
// It logs nothing, so no secret can leak from it.

export {
  encryptData, signRawData,
  type EncryptedPayload, type SignedUserInfo, type WechatSandboxPhone, type WechatSandboxProfile, type WechatSandboxUser
} from './wechat-user.js'
export type { WechatSandboxEndpoint } from './wechat-routes.js'

export interface WechatSandboxFault extends JsonSandboxFault {
  /** Answer HTTP 200 with this errcode instead of doing the work. */
  errcode?: number
  errmsg?: string
  /** Serve the answer as text/plain, as WeChat sometimes does. */
  textPlain?: boolean
}

export interface WechatSandboxOptions extends SandboxOptions {
  /** Access token lifetime in seconds. Default 7200, as WeChat's. */
  accessTokenTtl?: number
  /** The pages of the released version, which wxacode.getUnlimited's check_path accepts. Default ['pages/index/index']. */
  pages?: string[]
  /** wxacode.getUnlimited calls an AppID may make a minute (errcode 45009 past it). Default 5000. */
  wxacodesPerMinute?: number
}

export interface WechatSandbox extends Sandbox<WechatSandboxEndpoint, WechatSandboxFault> {
  /** Pass it as the wechat baseUrl. */
  readonly url: string
  /** stable_token calls with force_refresh: true, those that did not refresh included (rotateToken is not one). */
  readonly forcedRefreshes: number
  /**
   * Plays another service on the same AppID forcing a refresh: a new stable
   * token, the previous one refused (40001) from now on. It counts against the
   * AppID's forced refreshes (20 a day, 30 s apart), as on WeChat.
   */
  rotateToken: (appId?: string) => void
  addApp: (appId: string, appSecret: string) => void
  /** Plays wx.login: a single-use code valid 5 minutes, and a fresh session_key for the user. */
  issueCode: (user: WechatSandboxUser, appId?: string) => string
  /** The session_key WeChat currently holds for the user (the one its client encrypts with). */
  sessionKeyOf: (openId: string, appId?: string) => string
  /** What wx.getUserInfo gives the mini-program: encrypted with the current session_key. */
  userInfo: (openId: string, appId?: string) => SignedUserInfo
  /** What the legacy getPhoneNumber button gives: encrypted with the current session_key. */
  phoneData: (openId: string, appId?: string) => EncryptedPayload
  /** What the current getPhoneNumber button gives: a code for getuserphonenumber, bound to the user. */
  phoneCode: (openId: string, appId?: string) => string
}

export function createWechatSandbox (options: WechatSandboxOptions = {}): Promise<WechatSandbox> {
  return wechatLikeSandbox('WeChat sandbox', ROUTES, options)
}

/** A sandbox with WeChat's rules at these paths: WeChat's own, or a platform that copied them (QQ). */
export async function wechatLikeSandbox (name: string, routes: WechatRouteTable, options: WechatSandboxOptions): Promise<WechatSandbox> {
  const server = new SandboxServer<WechatSandboxEndpoint, WechatSandboxFault>(name, Object.values(routes).map((route) => route.endpoint))
  const state = new WechatState(options, (secret) => server.remember(secret))
  const answer = wechatRoutes(state)

  async function handle ({ method, url, body }: SandboxRequest): Promise<SandboxReply> {
    // WeChat answers an unknown path or a wrong method with HTTP 200 and an errcode, never a 404.
    const route = routes[url.pathname]
    if (!route) return jsonReply(errorAnswer(INVALID_URL), undefined)
    const { endpoint } = route
    server.count(endpoint)
    if (method !== route.method) return jsonReply(errorAnswer(WRONG_METHOD[route.method]), undefined)
    const fault = server.takeFault(endpoint)
    // A used code then gets 40163 on a retry, as on WeChat.
    return server.answer(fault, () => {
      const answered = fault?.errcode !== undefined ? errorAnswer(fault.errcode, fault.errmsg) : answer(endpoint, method, url, body)
      return Buffer.isBuffer(answered) ? { headers: { 'content-type': 'image/png' }, body: answered } : jsonReply(answered, fault)
    })
  }

  await server.listen(handle, options.host, options.port)
  return {
    ...server.face(() => state.users.appSecrets()),
    ...state.users.face(true),
    get forcedRefreshes () { return state.forcedRefreshes },
    rotateToken: (appId) => state.rotateToken(appId),
    issueCode: (user, appId) => state.issueCode(user, appId),
    phoneCode: (openId, appId) => state.phoneCode(openId, appId)
  }
}

/** WeChat's JSON content type (with its odd parameter), or text/plain as it sometimes serves. */
function jsonReply (body: Record<string, unknown>, fault: WechatSandboxFault | undefined): SandboxReply {
  return json(body, fault, fault?.textPlain ? 'text/plain' : 'application/json; encoding=utf-8')
}
