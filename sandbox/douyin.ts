import { randomBytes } from 'node:crypto'
import { DouyinPhoneState } from './douyin-phone.js'
import { DouyinState, ERR_TIPS, type DouyinLoginCodes, type DouyinSandboxUser } from './douyin-state.js'
import { jsonReply, NOT_FOUND, SandboxServer, type JsonSandboxFault, type Sandbox, type SandboxOptions, type SandboxRequest, type SandboxReply } from './kit.js'
import type { EncryptedPayload, SignedUserInfo } from './wechat-user.js'

// A local stand-in for developer.toutiao.com's jscode2session (v2), the one
// endpoint a Douyin mini-program login uses. It keeps Douyin's rules
// (single-use codes that expire, anonymous codes, session_key rotation) and
// injects faults. It logs nothing, so no secret can leak from it.

export type { DouyinLoginCodes, DouyinSandboxUser } from './douyin-state.js'

export type DouyinSandboxEndpoint = 'jscode2session' | 'client_token' | 'get_phonenumber_info'

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
  /** Plays setting the app's RSA public key in Douyin's console: phone codes answer with numbers sealed with it. */
  setPhoneKey: (appId: string, publicKeyPem: string) => void
  /** What the getPhoneNumber button gives from base library 3.51.0: a code (single use, 5 minutes) for get_phonenumber_info. */
  phoneCode: (openId: string, appId?: string) => string
}

const PATH = '/api/apps/v2/jscode2session'
const OPEN_API: Record<string, DouyinSandboxEndpoint> = { '/oauth/client_token/': 'client_token', '/api/apps/v1/get_phonenumber_info/': 'get_phonenumber_info' }

export async function createDouyinSandbox (options: DouyinSandboxOptions = {}): Promise<DouyinSandbox> {
  const server = new SandboxServer<DouyinSandboxEndpoint, DouyinSandboxFault>('Douyin sandbox', ['jscode2session', ...Object.values(OPEN_API)])
  const state = new DouyinState(options, (secret) => server.remember(secret))
  const phones = new DouyinPhoneState((appId) => state.users.secretOf(appId), options.now ?? Date.now, (secret) => server.remember(secret))

  async function handle ({ method, url, body, headers }: SandboxRequest): Promise<SandboxReply> {
    const openApi = OPEN_API[url.pathname]
    if (openApi && method === 'POST') {
      server.count(openApi)
      const fault = server.takeFault(openApi)
      // What open.douyin.com answers a body that is not JSON is unverified: as an empty one.
      const json = jsonObject(body) ?? {}
      const work = () => openApi === 'client_token' ? phones.clientToken(json) : phones.phoneInfo(headers, json)
      // An errNo fault in each endpoint's own shape: client_token's error_code inside data.
      const refusal = (errNo: number) => openApi === 'client_token' ? phones.tokenRefusal(errNo, fault?.errTips) : errorAnswer(errNo, fault?.errTips)
      return server.answer(fault, () => jsonReply(fault?.errNo !== undefined ? refusal(fault.errNo) : work(), fault))
    }
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
    login: (user, appId) => state.login(user, appId),
    setPhoneKey: (appId, publicKeyPem) => phones.setPublicKey(appId, publicKeyPem),
    phoneCode: (openId, appId) => {
      const { user, appId: id } = state.users.stateOf(openId, appId)
      if (!user.phone) throw new Error(`Douyin sandbox: ${openId} has no phone number`)
      return phones.phoneCode(id, openId, user.phone)
    }
  }
}

/** Douyin's request id, as every answer carries one. */
function logId (): string {
  return randomBytes(16).toString('hex').toUpperCase()
}

function errorAnswer (errNo: number, errTips = ERR_TIPS[errNo] ?? 'sandbox fault'): Record<string, unknown> {
  return { err_no: errNo, err_tips: errTips, log_id: logId() }
}

/** A JSON object body, or undefined. */
function jsonObject (text: string): Record<string, unknown> | undefined {
  try {
    const body: unknown = JSON.parse(text)
    if (typeof body === 'object' && body !== null) return body as Record<string, unknown>
  } catch {}
  return undefined
}

function answer (state: DouyinState, text: string): Record<string, unknown> {
  const body = jsonObject(text)
  if (!body) return errorAnswer(40014)
  const data = state.exchange(body)
  return typeof data === 'number' ? errorAnswer(data) : { err_no: 0, err_tips: 'success', log_id: logId(), data }
}
