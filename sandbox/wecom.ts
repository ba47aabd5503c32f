import { randomBytes } from 'node:crypto'
import { IssuedCodes } from './issued-codes.js'
import { jsonReply, NOT_FOUND, SandboxServer, type JsonSandboxFault, type Sandbox, type SandboxRequest, type SandboxReply } from './kit.js'

// A local stand-in for qyapi.weixin.qq.com's endpoints a WeCom (企业微信)
// mini-program login uses: cgi-bin/gettoken (the corp's access token: 7200 s,
// the same token again while it is valid) and cgi-bin/miniprogram/jscode2session
// (wx.qy.login's single-use code for corpid, userid and session_key), with
// WeCom's errcodes and faults. It logs nothing.

export type WecomSandboxEndpoint = 'gettoken' | 'jscode2session'

export interface WecomSandboxFault extends JsonSandboxFault {
  /** Answer HTTP 200 with this errcode instead of doing the work. */
  errcode?: number
  errmsg?: string
}

export interface WecomSandboxOptions {
  /** corpId → the Secret of its WeCom app the mini-program is associated with. */
  corps?: Record<string, string>
  /** Access token lifetime in seconds. Default 7200, as WeCom's. */
  accessTokenTtl?: number
  port?: number
  host?: string
  now?: () => number
}

/** A corp member in WeCom, as wx.qy.login sees them. */
export interface WecomSandboxUser {
  corpId: string
  userId: string
}

export interface WecomSandbox extends Sandbox<WecomSandboxEndpoint, WecomSandboxFault> {
  /** Pass it as the wecom baseUrl. */
  readonly url: string
  addCorp: (corpId: string, secret: string) => void
  /** Plays wx.qy.login: a code (single use, 5 minutes) and a fresh session_key. The code is the corp's: WeCom's docs bind it to no mini-program. */
  login: (user: WecomSandboxUser) => { code: string }
  /** The session_key WeCom currently holds for the user. */
  sessionKeyOf: (user: WecomSandboxUser) => string
  /** Plays WeCom ending a corp's token early (its docs allow it): the next call with it gets 42001. */
  expireTokens: (corpId: string) => void
}

const ROUTES: Record<string, WecomSandboxEndpoint> = {
  '/cgi-bin/gettoken': 'gettoken',
  '/cgi-bin/miniprogram/jscode2session': 'jscode2session'
}
const CODE_TTL_MS = 5 * 60_000
// WeCom's global errcodes (docs/wecom.md).
const ERRMSG: Record<number, string> = {
  [-1]: 'system busy',
  40001: 'invalid secret',
  40013: 'invalid corpid',
  40014: 'invalid access_token',
  40029: 'invalid code',
  41001: 'access_token missing',
  41008: 'missing code',
  42001: 'access_token expired',
  60020: 'not allow to access from your ip'
}

function refusal (errcode: number, errmsg = ERRMSG[errcode] ?? 'sandbox fault'): Record<string, unknown> {
  return { errcode, errmsg: `${errmsg}, hint: [${randomBytes(6).toString('hex')}]` }
}

export async function createWecomSandbox (options: WecomSandboxOptions = {}): Promise<WecomSandbox> {
  const server = new SandboxServer<WecomSandboxEndpoint, WecomSandboxFault>('WeCom sandbox', Object.values(ROUTES))
  const now = options.now ?? Date.now
  const ttlMs = (options.accessTokenTtl ?? 7200) * 1000
  const corps = new Map(Object.entries(options.corps ?? {}))
  const tokens = new Map<string, { corpId: string, expiresAt: number }>()
  const codes = new IssuedCodes(CODE_TTL_MS, now)
  const sessionKeys = new Map<string, string>()
  const userKey = ({ corpId, userId }: WecomSandboxUser) => `${corpId}\n${userId}`

  function getToken (query: URLSearchParams): Record<string, unknown> {
    const corpId = query.get('corpid') ?? ''
    if (!corps.has(corpId)) return refusal(40013)
    if (corps.get(corpId) !== query.get('corpsecret')) return refusal(40001)
    // While a token is valid, gettoken hands out the same one.
    const current = [...tokens].find(([, token]) => token.corpId === corpId && now() < token.expiresAt)
    const token = current?.[0] ?? server.remember(randomBytes(48).toString('base64url'))
    if (!current) tokens.set(token, { corpId, expiresAt: now() + ttlMs })
    return { errcode: 0, errmsg: 'ok', access_token: token, expires_in: Math.floor((tokens.get(token)!.expiresAt - now()) / 1000) }
  }

  function jscode2session (query: URLSearchParams): Record<string, unknown> {
    const token = tokens.get(query.get('access_token') ?? '')
    if (!query.get('access_token')) return refusal(41001)
    if (!token) return refusal(40014)
    if (now() >= token.expiresAt) return refusal(42001)
    if (!query.get('js_code')) return refusal(41008)
    // A code is good with any corp's token: the answer names the user's corp (WeCom's multi-corp flow).
    const subject = [...corps.keys()].map((corpId) => ({ corpId, subject: codes.spend(query.get('js_code'), corpId) })).find(({ subject }) => subject !== undefined)
    if (!subject) return refusal(40029)
    const user = { corpId: subject.corpId, userId: subject.subject! }
    return { errcode: 0, errmsg: 'ok', corpid: user.corpId, userid: user.userId, session_key: sessionKeys.get(userKey(user)) }
  }

  async function handle ({ method, url }: SandboxRequest): Promise<SandboxReply> {
    const endpoint = ROUTES[url.pathname]
    // What WeCom answers an unknown path or a POST here is unverified: a 404.
    if (!endpoint || method !== 'GET') return NOT_FOUND
    server.count(endpoint)
    const fault = server.takeFault(endpoint)
    const work = () => endpoint === 'gettoken' ? getToken(url.searchParams) : jscode2session(url.searchParams)
    return server.answer(fault, () => jsonReply(fault?.errcode !== undefined ? refusal(fault.errcode, fault.errmsg) : work(), fault))
  }

  await server.listen(handle, options.host, options.port)
  return {
    ...server.face(() => [...corps.values()]),
    addCorp: (corpId, secret) => { corps.set(corpId, secret) },
    login: (user) => {
      if (!corps.has(user.corpId)) throw new Error(`WeCom sandbox: unknown corp ${JSON.stringify(user.corpId)}; addCorp(corpId, secret) first`)
      sessionKeys.set(userKey(user), server.remember(randomBytes(16).toString('base64')))
      return { code: codes.issue(user.corpId, user.userId) }
    },
    sessionKeyOf: (user) => {
      const key = sessionKeys.get(userKey(user))
      if (!key) throw new Error(`WeCom sandbox: ${user.userId} of ${user.corpId} never logged in; login() first`)
      return key
    },
    expireTokens: (corpId) => {
      for (const token of tokens.values()) if (token.corpId === corpId) token.expiresAt = now()
    }
  }
}
