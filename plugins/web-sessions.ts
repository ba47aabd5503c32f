import fp from 'fastify-plugin'
import fastifyCookie from '@fastify/cookie'
import { randomBytes } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { parseDuration } from '../lib/duration.js'
import { rejectUnknownKeys } from '../lib/options.js'
import { allowedRedirectsOf, type AllowedRedirect } from '../lib/redirects.js'

export interface WebCookieOptions {
  /** The session cookie's name. Default '__Host-mpa_session' (Secure, Path=/, no Domain: this host only). */
  name?: string
  /** The browser-binding nonce cookie's name. Default '__Host-mpa_browser'. */
  browserName?: string
  /** Default 'lax': 'strict' would drop the cookie on the redirect back from WeChat; 'none' would send it on cross-site posts. */
  sameSite?: 'lax' | 'strict'
  /** Default true. false only for local http development: the default names are then without the __Host- prefix, and yours must be too. */
  secure?: boolean
}

/** The browser surfaces: the session cookie, and where a login may send the browser back to. */
export interface WebOptions {
  /** The session cookie (default `__Host-mpa_session`: HttpOnly, Secure, SameSite=Lax, Path=/). */
  cookie?: WebCookieOptions
  /** Where a browser login may redirect: absolute http(s) URLs, each an origin or a path prefix ('https://app.example.com/account/'). */
  redirects?: string[]
  /** How long a browser login's state lives, from the authorize redirect to the callback. Default '10m'. */
  stateTtl?: number | string
}

/**
 * The umbrella's `web` option, checked with what needs it (scan login and
 * web-view tickets set the session cookie; scan login shows a WeChat code):
 * its redirect allow-list and the states' lifetime, each message naming the option.
 */
export function webOptionsOf ({ web, scanLogin, webview, wechat }: { web?: WebOptions, scanLogin?: unknown, webview?: unknown, wechat?: unknown }): { redirects: AllowedRedirect[], stateTtlMs: number } {
  if (web !== undefined && (typeof web !== 'object' || web === null)) throw new TypeError('web must be an object { cookie?, redirects?, stateTtl? }')
  rejectUnknownKeys(web, ['cookie', 'redirects', 'stateTtl'], 'web')
  for (const [surface, option] of [['scanLogin', scanLogin], ['webview', webview]] as const) {
    if (option !== undefined && web === undefined) throw new TypeError(`${surface} needs the web option (the browser's session cookie): add web: {} or web: { cookie, redirects }`)
  }
  if (scanLogin !== undefined && wechat === undefined) throw new TypeError('scanLogin needs the wechat option: the code the PC shows is a WeChat mini-program code')
  return {
    redirects: web?.redirects === undefined ? [] : allowedRedirectsOf(web.redirects, 'web.redirects'),
    stateTtlMs: parseDuration(web?.stateTtl ?? '10m', 'web.stateTtl')
  }
}

export interface WebSessionsPluginOptions {
  cookie?: WebCookieOptions
}

/**
 * What the web surfaces (OAuth callbacks, scan login, web-view tickets) use: the session cookie and the browser binding.
 * @public
 */
export interface WebSessions {
  /** Sets the session cookie: HttpOnly, Secure, SameSite, Path=/, Max-Age to the session's expiry. The cookie value is the skey (opaque). */
  start (reply: FastifyReply, session: { skey: string, expiresAt: number }): void
  /** Clears the cookie. */
  clear (reply: FastifyReply): void
  /** The browser's binding id: read from a nonce cookie (HttpOnly, Secure, SameSite=Lax, random 128-bit), set on the reply if absent; a state or ticket stores a hash of it so it is useless from another browser. */
  browserOf (request: FastifyRequest, reply: FastifyReply): string
  /** The binding id of a request if it carries one, else null (never sets). */
  boundBrowserOf (request: FastifyRequest): string | null
}

/** Internal, hence a symbol: the web routes' way to the cookies. */
export const kWebSessions = Symbol('mpa-web-sessions')
/** The session cookie of a request (not validated), for authenticate: internal. */
export const kSessionCookie = Symbol('mpa-session-cookie')

declare module 'fastify' {
  interface FastifyInstance {
    [kWebSessions]: WebSessions
    [kSessionCookie]: (request: FastifyRequest) => string | undefined
  }
}

const COOKIE_KEYS = ['name', 'browserName', 'sameSite', 'secure'] as const
// RFC 6265 cookie-name token characters.
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// 128 random bits, base64url.
const NONCE_BYTES = 16
const NONCE = /^[A-Za-z0-9_-]{22}$/

/** The cookie options, checked and defaulted; every message names the option. */
function webCookieOf (cookie: WebCookieOptions | undefined, option = 'web.cookie'): Required<WebCookieOptions> {
  if (cookie !== undefined && (typeof cookie !== 'object' || cookie === null)) throw new TypeError(`${option} must be an object`)
  rejectUnknownKeys(cookie, COOKIE_KEYS, option)
  const { secure = true } = cookie ?? {}
  if (typeof secure !== 'boolean') throw new TypeError(`${option}.secure must be a boolean (got ${JSON.stringify(secure)})`)
  // The __Host- prefix where a browser accepts it: over HTTPS only.
  const prefix = secure ? '__Host-' : ''
  const { name = `${prefix}mpa_session`, browserName = `${prefix}mpa_browser`, sameSite = 'lax' } = cookie ?? {}
  if (sameSite !== 'lax' && sameSite !== 'strict') throw new TypeError(`${option}.sameSite must be 'lax' or 'strict' (got ${JSON.stringify(sameSite)})`)
  for (const [key, value] of [['name', name], ['browserName', browserName]] as const) {
    if (typeof value !== 'string' || !COOKIE_NAME.test(value)) throw new TypeError(`${option}.${key} must be a cookie name (got ${JSON.stringify(value)})`)
    // Browsers refuse a __Host- or __Secure- cookie that is not Secure: it would never be set.
    const prefix = /^__(Host|Secure)-/i.exec(value)?.[0]
    if (!secure && prefix !== undefined) throw new TypeError(`${option}.${key} '${value}' cannot use the ${prefix} prefix with secure: false (local http only): pick a name without it`)
  }
  if (name === browserName) throw new TypeError(`${option}.name and ${option}.browserName must differ (both are '${name}')`)
  return { name, browserName, sameSite, secure }
}

/**
 * `fastify[kWebSessions]`: the session cookie and the browser nonce. Registers
 * @fastify/cookie (with no parsing hook: only a request that has no skey
 * header reads its cookies) unless the app registered it first.
 */
const webSessionsPlugin: FastifyPluginAsync<WebSessionsPluginOptions> = async (fastify, options) => {
  const { name, browserName, sameSite, secure } = webCookieOf(options.cookie)
  if (!fastify.hasReplyDecorator('setCookie')) await fastify.register(fastifyCookie, { hook: false })
  const attributes = { httpOnly: true, secure, sameSite, path: '/' } as const
  // A nonce set on this request's reply, so a second browserOf in the same request answers the same.
  const issued = new WeakMap<FastifyRequest, string>()

  function cookie (request: FastifyRequest, cookieName: string): string | undefined {
    const header = request.headers.cookie
    return header === undefined ? undefined : (request.cookies ?? fastify.parseCookie(header))[cookieName]
  }

  function boundBrowserOf (request: FastifyRequest): string | null {
    const nonce = cookie(request, browserName) ?? issued.get(request)
    return nonce !== undefined && NONCE.test(nonce) ? nonce : null
  }

  fastify.decorate(kSessionCookie, (request: FastifyRequest) => cookie(request, name))
  fastify.decorate(kWebSessions, {
    start (reply, { skey, expiresAt }) {
      reply.setCookie(name, skey, { ...attributes, maxAge: Math.max(0, Math.floor((expiresAt - Date.now()) / 1000)) })
    },
    clear (reply) {
      // Browsers only clear a cookie whose attributes match (a __Host- one must stay Secure, Path=/).
      reply.clearCookie(name, attributes)
    },
    browserOf (request, reply) {
      const bound = boundBrowserOf(request)
      if (bound !== null) return bound
      const nonce = randomBytes(NONCE_BYTES).toString('base64url')
      issued.set(request, nonce)
      // Lax whatever the session cookie's SameSite: the nonce must come back on the redirect from the platform.
      reply.setCookie(browserName, nonce, { ...attributes, sameSite: 'lax' })
      return nonce
    },
    boundBrowserOf
  } satisfies WebSessions)
}

export default fp(webSessionsPlugin, {
  name: 'mpa-web-sessions',
  fastify: '5.x'
})
