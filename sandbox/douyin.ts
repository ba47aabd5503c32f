import { randomBytes } from 'node:crypto'
import { DouyinState, ERR_TIPS, type DouyinLoginCodes, type DouyinSandboxUser } from './douyin-state.js'
import { jsonReply, NOT_FOUND, SandboxServer, type JsonSandboxFault, type Sandbox, type SandboxOptions, type SandboxRequest, type SandboxReply } from './kit.js'
import type { EncryptedPayload, SignedUserInfo } from './wechat-user.js'

// A local stand-in for developer.toutiao.com's jscode2session (v2), the one
// endpoint a Douyin mini-program login uses. It keeps Douyin's rules
// (single-use codes that expire, anonymous codes, session_key rotation) and
// injects faults. It logs nothing, so no secret can leak from it.

export type { DouyinLoginCodes, DouyinSandboxUser } from './douyin-state.js'

export type DouyinSandboxEndpoint = 'jscode2session'

export interface DouyinSandboxFault extends JsonSandboxFault {
  /** Answer HTTP 200 with this err_no instead of doing the work. */
  errNo?: number
  errTips?: string
}

export interface DouyinSandboxOptions extends SandboxOptions {
  /** Whether decrypted data carries a watermark, as Douyin documents. Default true; false plays data the product refuses. */
  watermark?: boolean
}

export interface DouyinSandbox extends Sandbox<DouyinSandboxEndpoint, DouyinSandboxFault> {
  /** Pass it as the douyin baseUrl. */
  readonly url: string
  addApp: (appId: string, appSecret: string) => void
  /**
   * Plays tt.login: an anonymousCode for the device, and for a user logged in
   * to the host app (`openId` set) a code and a fresh session_key. Single use, 5 minutes.
   */
  login: (user: DouyinSandboxUser, appId?: string) => DouyinLoginCodes
  /** The session_key Douyin currently holds for the user (the one its client encrypts with). */
  sessionKeyOf: (openId: string, appId?: string) => string
  /** What tt.getUserInfo gives the mini-program: encrypted with the current session_key. */
  userInfo: (openId: string, appId?: string) => SignedUserInfo
  /** What the getPhoneNumber button gives: encrypted with the current session_key. */
  phoneData: (openId: string, appId?: string) => EncryptedPayload
}

const PATH = '/api/apps/v2/jscode2session'

export async function createDouyinSandbox (options: DouyinSandboxOptions = {}): Promise<DouyinSandbox> {
  const server = new SandboxServer<DouyinSandboxEndpoint, DouyinSandboxFault>('Douyin sandbox', ['jscode2session'])
  const state = new DouyinState(options, (secret) => server.remember(secret))

  async function handle ({ method, url, body }: SandboxRequest): Promise<SandboxReply> {
    // What Douyin answers an unknown path or a GET is unverified: a 404.
    if (url.pathname !== PATH || method !== 'POST') return NOT_FOUND
    server.count('jscode2session')
    const fault = server.takeFault('jscode2session')
    return server.answer(fault, () => jsonReply(fault?.errNo !== undefined ? errorAnswer(fault.errNo, fault.errTips) : answer(state, body), fault))
  }

  await server.listen(handle, options.host, options.port)
  return {
    ...server.face(() => state.users.appSecrets()),
    ...state.users.face(state.watermarks),
    login: (user, appId) => state.login(user, appId)
  }
}

/** Douyin's request id, as every answer carries one. */
function logId (): string {
  return randomBytes(16).toString('hex').toUpperCase()
}

function errorAnswer (errNo: number, errTips = ERR_TIPS[errNo] ?? 'sandbox fault'): Record<string, unknown> {
  return { err_no: errNo, err_tips: errTips, log_id: logId() }
}

function answer (state: DouyinState, text: string): Record<string, unknown> {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return errorAnswer(40014)
  }
  if (typeof body !== 'object' || body === null) return errorAnswer(40014)
  const data = state.exchange(body as Record<string, unknown>)
  return typeof data === 'number' ? errorAnswer(data) : { err_no: 0, err_tips: 'success', log_id: logId(), data }
}
