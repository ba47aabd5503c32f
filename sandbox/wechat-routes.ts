import { randomBytes } from 'node:crypto'
import type { WechatState } from './wechat-state.js'
import { sceneCode, WIDTH } from './wechat-qr.js'

// WeChat's endpoints and how it answers: the checks each endpoint makes in
// WeChat's order, and errcodes with WeChat's errmsg texts.

export type WechatSandboxEndpoint = 'jscode2session' | 'token' | 'stable_token' | 'getuserphonenumber' | 'checksession' | 'getwxacodeunlimit'

/** Path → the endpoint there and the one method it answers. */
export type WechatRouteTable = Record<string, { endpoint: WechatSandboxEndpoint, method: 'GET' | 'POST' }>

export const ROUTES: WechatRouteTable = {
  '/sns/jscode2session': { endpoint: 'jscode2session', method: 'GET' },
  '/cgi-bin/token': { endpoint: 'token', method: 'GET' },
  '/cgi-bin/stable_token': { endpoint: 'stable_token', method: 'POST' },
  '/wxa/business/getuserphonenumber': { endpoint: 'getuserphonenumber', method: 'POST' },
  '/wxa/checksession': { endpoint: 'checksession', method: 'GET' },
  '/wxa/getwxacodeunlimit': { endpoint: 'getwxacodeunlimit', method: 'POST' }
}

/** WeChat answers a path it does not know with HTTP 200 and this errcode ('invalid url'), not a 404. */
export const INVALID_URL = 40066
/**
 * And a known path asked with the wrong method with one of these (WeChat's
 * global errcodes: 43001 'require GET method', 43002 'require POST method').
 */
export const WRONG_METHOD = { GET: 43001, POST: 43002 } as const

const ERRMSG: Record<number, string> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40013: 'invalid appid',
  40029: 'invalid code',
  40097: 'invalid args',
  40129: 'invalid scene',
  40169: 'invalid length for scene, or the data is not json string',
  41030: 'invalid page',
  40066: 'invalid url',
  40125: 'invalid appsecret',
  40163: 'code been used',
  40226: 'code blocked',
  41001: 'access_token missing',
  41002: 'appid missing',
  41008: 'missing code',
  42001: 'access_token expired',
  43001: 'require GET method',
  43002: 'require POST method',
  45009: 'reach max api daily quota limit',
  45011: 'api minute-quota reach limit mustslower retry next minute',
  47001: 'data format error',
  87009: 'invalid signature'
}

/** The JSON body WeChat answers with, always with HTTP 200; wxacode answers its image (a Buffer) instead. */
export type WechatAnswer = Record<string, unknown>

// The scene's documented characters: digits, letters and !#$&'()*+,/:;=?@-._~
const SCENE = /^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]+$/
const ENV_VERSIONS = new Set(['release', 'trial', 'develop'])

function rid (): string {
  return [4, 4, 4].map((n) => randomBytes(n).toString('hex')).join('-')
}

/** An error answer: WeChat's errmsg for the errcode, with a request id as WeChat appends. */
export function errorAnswer (errcode: number, errmsg = ERRMSG[errcode] ?? 'sandbox fault'): WechatAnswer {
  return { errcode, errmsg: `${errmsg}, rid: ${rid()}` }
}

type Handler = (query: URLSearchParams, body: Record<string, unknown>) => WechatAnswer | Buffer

function handlers (state: WechatState): Record<WechatSandboxEndpoint, Handler> {
  /** The error for an app request (bad credentials or grant type), or null. */
  function appRequestError (appId: unknown, secret: unknown, grantType: unknown, expected: string): WechatAnswer | null {
    const refused = state.credentialsError(appId, secret)
    if (refused !== null) return errorAnswer(refused)
    return grantType === expected ? null : errorAnswer(40002)
  }

  return {
    jscode2session (query) {
      const appId = query.get('appid')
      const refused = appRequestError(appId, query.get('secret'), query.get('grant_type'), 'authorization_code')
      if (refused) return refused
      const session = state.exchangeCode(query.get('js_code'), appId!)
      return typeof session === 'number' ? errorAnswer(session) : session
    },

    token (query) {
      const appId = query.get('appid')
      return appRequestError(appId, query.get('secret'), query.get('grant_type'), 'client_credential') ??
        { ...state.classicToken(appId!) }
    },

    stable_token (_query, body) {
      const refused = appRequestError(body.appid, body.secret, body.grant_type, 'client_credential')
      if (refused) return refused
      const answer = state.stableToken(body.appid as string, body.force_refresh === true)
      return typeof answer === 'number' ? errorAnswer(answer) : { ...answer }
    },

    getuserphonenumber (query, body) {
      const appId = state.tokenApp(query.get('access_token'))
      if (typeof appId === 'number') return errorAnswer(appId)
      const phoneInfo = state.redeemPhoneCode(body.code, appId, body.openid)
      return typeof phoneInfo === 'number' ? errorAnswer(phoneInfo) : { errcode: 0, errmsg: 'ok', phone_info: phoneInfo }
    },

    checksession (query) {
      const appId = state.tokenApp(query.get('access_token'))
      if (typeof appId === 'number') return errorAnswer(appId)
      const errcode = state.checkSession(appId, query.get('openid') ?? '', query.get('sig_method'), query.get('signature'))
      return errcode === 0 ? { errcode: 0, errmsg: 'ok' } : errorAnswer(errcode)
    },

    // wxacode.getUnlimited, its checks in the docs' terms: the token, the
    // scene (1 to 32 visible characters of the documented set), the page
    // (no leading '/'; with check_path, default true, one of the released
    // version's pages), env_version, width; then the per-minute quota.
    getwxacodeunlimit (query, body) {
      const appId = state.tokenApp(query.get('access_token'))
      if (typeof appId === 'number') return errorAnswer(appId)
      const { scene, page, check_path: checkPath = true, env_version: envVersion = 'release', width = WIDTH.default } = body
      if (typeof scene !== 'string' || scene.length === 0 || scene.length > 32) return errorAnswer(40169)
      if (!SCENE.test(scene)) return errorAnswer(40129)
      if (typeof checkPath !== 'boolean' || typeof width !== 'number') return errorAnswer(47001)
      if (!ENV_VERSIONS.has(envVersion as string)) return errorAnswer(40097)
      if (page !== undefined && (typeof page !== 'string' || page.startsWith('/') || (checkPath && !state.released(page)))) return errorAnswer(41030)
      if (!state.spendWxacode(appId)) return errorAnswer(45009)
      return sceneCode(scene, Math.min(WIDTH.max, Math.max(WIDTH.min, width)))
    }
  }
}

/** Answers requests to the endpoints from the state. */
export function wechatRoutes (state: WechatState): (endpoint: WechatSandboxEndpoint, method: string, url: URL, text: string) => WechatAnswer | Buffer {
  const byEndpoint = handlers(state)
  return (endpoint, method, url, text) => {
    let body: unknown = {}
    try {
      body = method === 'POST' ? JSON.parse(text) : {}
    } catch {
      return errorAnswer(47001) // WeChat's answer to a body that is not JSON
    }
    return typeof body === 'object' && body !== null ? byEndpoint[endpoint](url.searchParams, body as Record<string, unknown>) : errorAnswer(47001)
  }
}
