import { createHash, randomBytes } from 'node:crypto'
import { jsonReply, SandboxServer, type JsonSandboxFault, type Sandbox, type SandboxReply, type SandboxRequest } from './kit.js'

// A local stand-in for WeChat's OAuth 2.0 logins outside mini-programs, at
// both of WeChat's hosts in one server: the consent pages of open.weixin.qq.com
// (网页授权 connect/oauth2/authorize for an official account's pages,
// 网站应用 connect/qrconnect for a website) and the sns/ API of
// api.weixin.qq.com (oauth2/access_token, userinfo). A mobile app's code (the
// SDK's SendAuth) is issued by issueAppCode. Codes are single-use and live 5
// minutes, access tokens 7200 s; errcodes and errmsgs are WeChat's.
// The sandbox has no WeChat client to know who is signed in, so every consent
// page asks which user approves (WeChat skips the page for snsapi_base).

export type WechatOAuthSandboxEndpoint = 'authorize' | 'qrconnect' | 'access_token' | 'userinfo'

export interface WechatOAuthSandboxFault extends JsonSandboxFault {
  /** Answer HTTP 200 with this errcode instead of doing the work (the API endpoints). */
  errcode?: number
}

/** An app registered on the official-account platform ('oa') or the open platform ('website', 'app'). */
export interface WechatOAuthSandboxApp {
  secret: string
  kind: 'oa' | 'website' | 'app'
  /** The 授权回调域 (host[:port]) a redirect_uri must be on; any when absent. */
  callbackDomain?: string
}

export interface WechatOAuthSandboxUser {
  /** Per app unless given: WeChat gives every app its own openid for a person. */
  openId?: string
  /** The same for every app of one open-platform account. */
  unionId?: string
  nickname?: string
  sex?: 0 | 1 | 2
  province?: string
  city?: string
  country?: string
  headimgurl?: string
}

export interface WechatOAuthSandboxOptions {
  apps: Record<string, WechatOAuthSandboxApp>
  /** The people who may approve, by a key the tests and the consent page name them with. */
  users?: Record<string, WechatOAuthSandboxUser>
  port?: number
  host?: string
  now?: () => number
}

export interface WechatOAuthSandbox extends Sandbox<WechatOAuthSandboxEndpoint, WechatOAuthSandboxFault> {
  addUser: (key: string, user: WechatOAuthSandboxUser) => void
  /** The openid the app sees for the user. */
  openIdOf: (key: string, appId: string) => string
  /** Plays the mobile app SDK (SendAuth, snsapi_userinfo) approved by the user: a code for the app's server. */
  issueAppCode: (key: string, appId: string) => string
}

const CODE_TTL_MS = 5 * 60_000
const TOKEN_TTL_S = 7200
// What each consent page grants: 网页授权's two scopes, 网站应用's one.
const PAGE_SCOPES = { authorize: ['snsapi_base', 'snsapi_userinfo'], qrconnect: ['snsapi_login'] } as const
const PAGE_KIND = { authorize: 'oa', qrconnect: 'website' } as const

const ERRMSG: Record<number, string> = {
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40013: 'invalid appid',
  40029: 'invalid code',
  40125: 'invalid appsecret',
  40163: 'code been used',
  41001: 'access_token missing',
  41002: 'appid missing',
  41008: 'missing code',
  42001: 'access_token expired',
  43001: 'require GET method',
  48001: 'api unauthorized'
}
// The consent pages' own errors, shown on the page (the 网页授权 documentation's table).
const PAGE_ERRORS: Record<number, string> = {
  10003: 'redirect_uri域名与后台配置不一致',
  10005: '此公众号并没有这些scope的权限',
  10010: 'scope不能为空',
  10011: 'redirect_uri不能为空',
  10012: 'appid不能为空',
  10016: '不支持微信开放平台的Appid,请使用公众号Appid'
}

interface Consent { appId: string, redirectUri: string, scope: string, state: string | null }
interface Code { appId: string, key: string, scope: string, expiresAt: number, used: boolean }
interface Token { appId: string, openId: string, scope: string, expiresAt: number }

export async function createWechatOAuthSandbox (options: WechatOAuthSandboxOptions): Promise<WechatOAuthSandbox> {
  const now = options.now ?? Date.now
  const server = new SandboxServer<WechatOAuthSandboxEndpoint, WechatOAuthSandboxFault>('WeChat OAuth sandbox', ['authorize', 'qrconnect', 'access_token', 'userinfo'])
  const users = new Map(Object.entries(options.users ?? {}))
  const consents = new Map<string, Consent>()
  const codes = new Map<string, Code>()
  const tokens = new Map<string, Token>()

  const openIdOf = (key: string, appId: string) => users.get(key)?.openId ?? 'o' + createHash('sha256').update(`${appId}/${key}`).digest('base64url').slice(0, 27)
  // Not a secret kept from logs: WeChat puts the code in the callback's URL (history, access logs),
  // single-use and spent at once. The tokens it buys are secrets.
  const issue = (appId: string, key: string, scope: string) => {
    const code = randomBytes(16).toString('hex')
    codes.set(code, { appId, key, scope, expiresAt: now() + CODE_TTL_MS, used: false })
    return code
  }
  const error = (errcode: number) => ({ errcode, errmsg: `${ERRMSG[errcode] ?? 'sandbox fault'}, rid: ${randomBytes(6).toString('hex')}` })

  /** The consent page, or WeChat's error page for a request it refuses. */
  function page (endpoint: 'authorize' | 'qrconnect', query: URLSearchParams): SandboxReply {
    const appId = query.get('appid')
    const redirectUri = query.get('redirect_uri')
    const scope = query.get('scope')
    const app = appId ? options.apps[appId] : undefined
    let refused: number | null = null
    if (!appId) refused = 10012
    else if (!redirectUri) refused = 10011
    else if (!scope) refused = 10010
    else if (!app) refused = 10016
    else if (app.kind !== PAGE_KIND[endpoint] || !(PAGE_SCOPES[endpoint] as readonly string[]).includes(scope)) refused = 10005
    else if (app.callbackDomain !== undefined && URL.parse(redirectUri)?.host !== app.callbackDomain) refused = 10003
    if (refused !== null) return html(`<h1>${refused}</h1><p>${escape(PAGE_ERRORS[refused]!)}</p>`)
    const ticket = randomBytes(12).toString('hex')
    consents.set(ticket, { appId: appId!, redirectUri: redirectUri!, scope: scope!, state: query.get('state') })
    const choices = [...users.keys()].map((key) =>
      `<li><a id="approve-${escape(key)}" href="/connect/sandbox/approve?ticket=${ticket}&amp;user=${encodeURIComponent(key)}">允许 (${escape(key)})</a></li>`).join('')
    return html(`<h1>${escape(appId!)} 申请使用你的微信身份 (${escape(scope!)})</h1><ul>${choices}</ul><a id="refuse" href="/connect/sandbox/refuse?ticket=${ticket}">拒绝</a>`)
  }

  /** Approve: back to redirect_uri with a code and the state. Refuse: with the state only. */
  function decide (query: URLSearchParams, approve: boolean): SandboxReply {
    const ticket = query.get('ticket') ?? ''
    const consent = consents.get(ticket)
    const key = query.get('user') ?? ''
    if (!consent || (approve && !users.has(key))) return html('<h1>二维码已失效</h1>', 400)
    consents.delete(ticket)
    const target = new URL(consent.redirectUri)
    if (approve) target.searchParams.set('code', issue(consent.appId, key, consent.scope))
    if (consent.state !== null) target.searchParams.set('state', consent.state)
    return { status: 302, headers: { location: target.href, 'content-type': 'text/html;charset=utf-8' }, body: '' }
  }

  function accessToken (query: URLSearchParams): Record<string, unknown> {
    const appId = query.get('appid')
    if (!appId) return error(41002)
    const app = options.apps[appId]
    if (!app) return error(40013)
    if (query.get('secret') !== app.secret) return error(40125)
    if (query.get('grant_type') !== 'authorization_code') return error(40002)
    const code = query.get('code')
    if (!code) return error(41008)
    const issued = codes.get(code)
    if (!issued || issued.appId !== appId || issued.expiresAt <= now()) return error(40029)
    if (issued.used) return error(40163)
    issued.used = true
    const openId = openIdOf(issued.key, appId)
    const token = server.remember(randomBytes(24).toString('base64url'))
    tokens.set(token, { appId, openId, scope: issued.scope, expiresAt: now() + TOKEN_TTL_S * 1000 })
    const { unionId } = users.get(issued.key)!
    return {
      access_token: token,
      expires_in: TOKEN_TTL_S,
      refresh_token: server.remember(randomBytes(24).toString('base64url')),
      openid: openId,
      scope: issued.scope,
      // Where the app is bound to an open-platform account and the user granted more than snsapi_base.
      ...(unionId !== undefined && issued.scope !== 'snsapi_base' ? { unionid: unionId } : {})
    }
  }

  function userinfo (query: URLSearchParams): Record<string, unknown> {
    const token = query.get('access_token')
    if (!token) return error(41001)
    const found = tokens.get(token)
    if (!found) return error(40001)
    if (found.expiresAt <= now()) return error(42001)
    if (query.get('openid') !== found.openId) return error(40003)
    if (found.scope === 'snsapi_base') return error(48001)
    const key = [...users.keys()].find((candidate) => openIdOf(candidate, found.appId) === found.openId)!
    const { unionId, nickname = '', sex = 0, province = '', city = '', country = '', headimgurl = '' } = users.get(key)!
    return { openid: found.openId, nickname, sex, province, city, country, headimgurl, privilege: [], ...(unionId !== undefined ? { unionid: unionId } : {}) }
  }

  async function handle ({ method, url }: SandboxRequest): Promise<SandboxReply> {
    const path = url.pathname
    if (path === '/connect/sandbox/approve' || path === '/connect/sandbox/refuse') return decide(url.searchParams, path.endsWith('approve'))
    const endpoint = ({
      '/connect/oauth2/authorize': 'authorize', '/connect/qrconnect': 'qrconnect', '/sns/oauth2/access_token': 'access_token', '/sns/userinfo': 'userinfo'
    } as const)[path]
    if (endpoint === undefined) return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'not found' }
    server.count(endpoint)
    const fault = server.takeFault(endpoint)
    if (endpoint === 'authorize' || endpoint === 'qrconnect') return server.answer(fault, () => page(endpoint, url.searchParams))
    // WeChat answers in JSON with HTTP 200, its errors too.
    return server.answer(fault, () => jsonReply(
      fault?.errcode !== undefined ? error(fault.errcode) : method !== 'GET' ? error(43001) : endpoint === 'access_token' ? accessToken(url.searchParams) : userinfo(url.searchParams),
      fault, 'application/json; encoding=utf-8'))
  }

  await server.listen(handle, options.host, options.port)
  return {
    ...server.face(() => Object.values(options.apps).map(({ secret }) => secret)),
    addUser: (key, user) => { users.set(key, user) },
    openIdOf,
    issueAppCode: (key, appId) => {
      if (!users.has(key) || options.apps[appId]?.kind !== 'app') throw new Error(`WeChat OAuth sandbox: no user ${key} or mobile app ${appId}`)
      return issue(appId, key, 'snsapi_userinfo')
    }
  }
}

function html (inner: string, status = 200): SandboxReply {
  return { status, headers: { 'content-type': 'text/html;charset=utf-8' }, body: `<!doctype html><html><head><meta charset="utf-8"><title>WeChat</title></head><body>${inner}</body></html>` }
}

function escape (text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}
