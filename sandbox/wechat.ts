import { htmlReply, SandboxServer, type Sandbox, type SandboxFault, type SandboxRequest, type SandboxReply } from './kit.js'
import { ENDPOINTS, errorAnswer, INVALID_URL, ROUTES, WRONG_METHOD, wechatRoutes, type WechatSandboxEndpoint } from './wechat-routes.js'
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

export interface WechatSandboxFault extends SandboxFault {
  /** Answer HTTP 200 with this errcode instead of doing the work. */
  errcode?: number
  errmsg?: string
  /** Serve the answer as text/plain, as WeChat sometimes does. */
  textPlain?: boolean
  /** Answer with a truncated, unparseable body. */
  malformed?: boolean
  /** Answer with this HTTP status and an HTML body, as a failing gateway does. */
  httpStatus?: number
}

export interface WechatSandboxOptions {
  /** appId → appSecret of the apps WeChat knows. */
  apps?: Record<string, string>
  /** Default 0 (any free port). */
  port?: number
  /** Default '127.0.0.1'. */
  host?: string
  /** The clock, in epoch ms, for code expiry, token lifetimes and watermarks. Default Date.now. */
  now?: () => number
  /** Access token lifetime in seconds. Default 7200, as WeChat's. */
  accessTokenTtl?: number
}

export interface WechatSandbox extends Sandbox<WechatSandboxEndpoint, WechatSandboxFault> {
  /** Pass it as the wechat baseUrl. */
  readonly url: string
  /** stable_token calls with force_refresh: true, refused ones included (rotateToken is not one). */
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

export async function createWechatSandbox (options: WechatSandboxOptions = {}): Promise<WechatSandbox> {
  const server = new SandboxServer<WechatSandboxEndpoint, WechatSandboxFault>('WeChat sandbox', ENDPOINTS)
  const state = new WechatState(options, (secret) => server.remember(secret))
  const answer = wechatRoutes(state)

  async function handle ({ method, url, body }: SandboxRequest): Promise<SandboxReply> {
    // WeChat answers an unknown path or a wrong method with HTTP 200 and an errcode, never a 404.
    const route = ROUTES[url.pathname]
    if (!route) return jsonReply(errorAnswer(INVALID_URL), undefined)
    const { endpoint } = route
    server.count(endpoint)
    if (method !== route.method) return jsonReply(errorAnswer(WRONG_METHOD), undefined)
    const fault = server.takeFault(endpoint)
    // An HTTP error fault answers instead of WeChat; otherwise WeChat does its
    // work now, before any delay, as the real one does: a caller that gives up
    // waiting has still spent its code (a retry then gets 40163).
    const reply: SandboxReply = fault?.httpStatus
      ? htmlReply(fault.httpStatus, `<body>${fault.httpStatus}</body>`)
      : jsonReply(fault?.errcode !== undefined ? errorAnswer(fault.errcode, fault.errmsg) : answer(endpoint, method, url, body), fault)
    await server.held(fault)
    return reply
  }

  await server.listen(handle, options.host, options.port)
  return {
    ...server.face(),
    secrets: () => [...state.appSecrets(), ...server.secrets()],
    get forcedRefreshes () { return state.forcedRefreshes },
    rotateToken: (appId) => state.rotateToken(appId),
    addApp: (appId, appSecret) => state.addApp(appId, appSecret),
    issueCode: (user, appId) => state.issueCode(user, appId),
    sessionKeyOf: (openId, appId) => state.sessionKeyOf(openId, appId),
    userInfo: (openId, appId) => state.userInfo(openId, appId),
    phoneData: (openId, appId) => state.phoneData(openId, appId),
    phoneCode: (openId, appId) => state.phoneCode(openId, appId)
  }
}

function jsonReply (body: Record<string, unknown>, fault: WechatSandboxFault | undefined): SandboxReply {
  const payload = JSON.stringify(body)
  return {
    headers: { 'content-type': fault?.textPlain ? 'text/plain' : 'application/json; encoding=utf-8' },
    body: fault?.malformed ? payload.slice(0, Math.ceil(payload.length / 2)) : payload
  }
}
