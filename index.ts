// The umbrella plugin: its options (one interface, every platform's among
// them), the providers as a table (a platform is a row), the order the pieces
// are registered in, and the public exports. One job, wiring, hence its size:
// every option is checked by the plugin that owns it (the web option by
// plugins/web-sessions.ts), none here but the prefix and errorReply.
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync, RegisterOptions } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import sessionsPlugin from './plugins/sessions.js'
import authenticatePlugin, { type DecoratorNames } from './plugins/authenticate.js'
import loginPlugin from './plugins/login.js'
import sessionRoutes from './routes/session.js'
import wechatPlugin from './plugins/wechat.js'
import wechatRoutes from './routes/wechat.js'
import alipayPlugin from './plugins/alipay.js'
import alipayRoutes from './routes/alipay.js'
import douyinPlugin from './plugins/douyin.js'
import douyinRoutes from './routes/douyin.js'
import qqPlugin from './plugins/qq.js'
import qqRoutes from './routes/qq.js'
import wecomPlugin from './plugins/wecom.js'
import wecomRoutes from './routes/wecom.js'
import kuaishouRoutes from './routes/kuaishou.js'
import { baiduPlugin, kuaishouPlugin } from './plugins/session-key-platforms.js'
import baiduRoutes from './routes/baidu.js'
import { applyAppRouteOptions, type AppRouteOptionsOption } from './routes/app-route-options.js'
import { kErrorReply, type ErrorReplyShaper } from './plugins/error-contract.js'
import { rejectUnknownKeys } from './lib/options.js'
import type { OnLogin, OnRevoke } from './login/hooks.js'
import type { LinkIdentity } from './login/flow.js'
import type { AlipayAppOptions } from './providers/alipay/options.js'
import type { DouyinAppOptions } from './providers/douyin/options.js'
import type { QqAppOptions } from './providers/qq/options.js'
import type { WecomAppOptions } from './providers/wecom/options.js'
import type { KuaishouAppOptions } from './providers/kuaishou/options.js'
import type { BaiduAppOptions } from './providers/baidu/options.js'
import type { WechatAppOptions } from './providers/wechat/options.js'
import { SESSION_OPTION_KEYS, type SessionOptions } from './store/session-options.js'
import type { SecretKey } from './lib/secret-box.js'
import type { ResolveUser } from './types.js'
import { kLoginRateLimit, type LoginRateLimitOptions } from './plugins/login-rate-limit.js'
import scanLoginPlugin, { type ScanLoginOptions } from './plugins/scan-login.js'
import scanRoutes from './routes/scan.js'
import webviewPlugin, { type WebviewOptions } from './plugins/webview.js'
import webviewRoutes from './routes/webview.js'
import webSessionsPlugin, { webOptionsOf, type WebOptions } from './plugins/web-sessions.js'
import webRoutes from './routes/web.js'
import { oauthStates, wechatAppPlugin, wechatOaPlugin, wechatWebPlugin } from './plugins/wechat-oauth.js'
import { browserLoginRoutes, wechatAppRoutes, type BrowserRoutesOptions } from './routes/wechat-oauth.js'
import { MOBILE_APP, OA, WEBSITE, type WechatOAuthAppOptions } from './providers/wechat-oauth/options.js'

export interface MiniprogramAuthOptions {
  /** Prefix of the login and session routes. Default '/auth'. */
  prefix?: string
  /** An ioredis Redis or Cluster; defaults to `fastify.redis` from @fastify/redis. */
  redis?: Redis | Cluster
  /** Prefix of every Redis key. Default 'mpa:'. */
  keyPrefix?: string
  /**
   * Keys that seal the platforms' secrets kept in Redis (session_keys,
   * tokens) with AES-256-GCM: the first seals, every one opens, so a key
   * rotates without logging anyone out. Without them those secrets are kept
   * in clear (a warning says so at boot).
   */
  secretKeys?: SecretKey[]
  session?: SessionOptions & {
    /** The request header that carries the skey. Default 'x-skey'. */
    header?: string
  }
  /**
   * Other names for `request.user`, `request.session` and `fastify.authenticate`,
   * beside a plugin that takes them (@fastify/jwt, @fastify/passport, @fastify/session).
   */
  decorators?: DecoratorNames
  /**
   * Browser sessions: `authenticate` also reads the session cookie (after the
   * skey header and Bearer), `POST <prefix>/web/logout` ends it. See docs/wechat-web.md.
   */
  web?: WebOptions
  /** Hooks, config and documentation for every route of ours, or a function of the route that returns them. */
  routes?: AppRouteOptionsOption
  /** Finds or creates the application's user; what it returns becomes `request.user`. */
  resolveUser?: ResolveUser
  /**
   * Adds a platform identity to the logged-in user: with it, every login
   * platform also has `POST <prefix>/<platform>/link` (docs/accounts.md).
   * Throw `errors.IdentityInUseError` when another user owns the identity.
   */
  linkIdentity?: LinkIdentity
  /** After a login created its session, beside the reply; if it throws, the error is logged and the login stands. */
  onLogin?: OnLogin
  /** After sessions were revoked (logout, logout-all, the caps, a ban, admin), beside the reply; if it throws, the error is logged. */
  onRevoke?: OnRevoke
  /** How long onLogin and onRevoke are waited for (at close) before they are logged and let go. Default '5s'. */
  hookTimeout?: number | string
  /** How long a retry of the same login code gets the same answer. Default '60s'. */
  codeReplayWindow?: number | string
  /**
   * Logins per client over the login routes, counted in Redis across every
   * instance: default 100 a minute per address (set Fastify's `trustProxy`
   * behind a proxy). `false` turns it off.
   */
  rateLimit?: LoginRateLimitOptions | false
  /**
   * The body of our routes' error replies, from the contract's
   * `{ statusCode, code, error, message }` and the request: for an app whose
   * every reply is an envelope (`{ code, msg, data }`). The status stays ours.
   * Default: the contract itself.
   */
  errorReply?: ErrorReplyShaper
  /** One WeChat mini-program, or several served by one backend (the login body's appId picks one; the first is the default). */
  wechat?: WechatAppOptions | WechatAppOptions[]
  /** One Alipay mini-program (key mode or certificate mode), or several. */
  alipay?: AlipayAppOptions | AlipayAppOptions[]
  /** One Douyin (ByteDance) mini-program, or several. */
  douyin?: DouyinAppOptions | DouyinAppOptions[]
  /** One QQ mini-program, or several. */
  qq?: QqAppOptions | QqAppOptions[]
  /** One WeCom (企业微信) mini-program with its corp, or several. */
  wecom?: WecomAppOptions | WecomAppOptions[]
  /** One Kuaishou mini-program, or several. */
  kuaishou?: KuaishouAppOptions | KuaishouAppOptions[]
  /** One Baidu smart program (its App Key as appId), or several. */
  baidu?: BaiduAppOptions | BaiduAppOptions[]
  /** A WeChat official account's web pages (网页授权), with `callbackUrl`: needs `web`. */
  wechatOa?: WechatOAuthAppOptions | WechatOAuthAppOptions[]
  /** A website's WeChat QR login (open platform 网站应用), with `callbackUrl`: needs `web`. */
  wechatWeb?: WechatOAuthAppOptions | WechatOAuthAppOptions[]
  /** A mobile app's WeChat login (open platform 移动应用): the SDK's code posted to `/wechat-app/login`. */
  wechatApp?: WechatOAuthAppOptions | WechatOAuthAppOptions[]
  /**
   * Scan login: a PC browser shows a mini-program code and logs in once the
   * user confirms in the mini-program (docs/wechat-scan.md). Needs `wechat`.
   */
  scanLogin?: ScanLoginOptions | true
  /** One-time tickets that open the mini-program's session in its web-view pages, as a cookie. */
  webview?: WebviewOptions | true
}

type ProviderOption = 'wechat' | 'alipay' | 'douyin' | 'qq' | 'wecom' | 'kuaishou' | 'baidu' | 'wechatOa' | 'wechatWeb' | 'wechatApp'

/** A login provider: the option that turns it on, its plugin (given the option as `apps`) and its routes. */
function provider<K extends ProviderOption> (
  option: K,
  plugin: FastifyPluginAsync<{ apps: NonNullable<MiniprogramAuthOptions[K]> }>,
  routes: FastifyPluginAsync<BrowserRoutesOptions & { prefix: string }>,
  browser = false
) {
  return { option, routes, browser, register: (fastify: FastifyInstance, options: MiniprogramAuthOptions) => fastify.register(plugin, { apps: options[option]! }) }
}

/** The login providers. A new platform is a row here (and its option above). */
const PROVIDERS = [
  provider('wechat', wechatPlugin, wechatRoutes),
  provider('alipay', alipayPlugin, alipayRoutes),
  provider('douyin', douyinPlugin, douyinRoutes),
  provider('qq', qqPlugin, qqRoutes),
  provider('wecom', wecomPlugin, wecomRoutes),
  provider('kuaishou', kuaishouPlugin, kuaishouRoutes),
  provider('baidu', baiduPlugin, baiduRoutes),
  provider(OA.option, wechatOaPlugin, browserLoginRoutes(OA), true),
  provider(WEBSITE.option, wechatWebPlugin, browserLoginRoutes(WEBSITE), true),
  provider(MOBILE_APP.option, wechatAppPlugin, wechatAppRoutes)
]

/** Every option the umbrella takes: a key not listed here is refused at register time (a typo would go unnoticed). */
const OPTION_KEYS = [
  'prefix', 'redis', 'keyPrefix', 'secretKeys', 'session', 'decorators', 'routes', 'resolveUser', 'linkIdentity', 'onLogin', 'onRevoke', 'hookTimeout', 'codeReplayWindow', 'rateLimit',
  'errorReply', 'web', 'scanLogin', 'webview',
  ...PROVIDERS.map(({ option }) => option),
  // Fastify's own options of register(), which it hands the plugin too.
  'logLevel', 'logSerializers'
] as const satisfies ReadonlyArray<keyof MiniprogramAuthOptions | 'logLevel' | 'logSerializers'>

/**
 * Paths to pass to Fastify's `logger.redact` when your request serializer logs
 * headers: the skey never reaches a log line.
 */
export const redactPaths = redactPathsFor('x-skey')

/** `redactPaths` for an app whose `session.header` is another header. */
export function redactPathsFor (header: string): string[] {
  return [
    `req.headers[${JSON.stringify(header.toLowerCase())}]`,
    'req.headers.authorization',
    // The web option's session cookie is the skey (browser logins, scan login, web-view pages).
    'req.headers.cookie',
    // Fastify logs a malformed request at trace level with its raw bytes, headers and body included.
    'err.rawPacket'
  ]
}

const miniprogramAuth: FastifyPluginAsync<MiniprogramAuthOptions> = async (fastify, options) => {
  rejectUnknownKeys(options, OPTION_KEYS)
  rejectUnknownKeys(options.session, [...SESSION_OPTION_KEYS, 'header'], 'session')
  const prefix = options.prefix ?? '/auth'
  if (typeof prefix !== 'string' || (prefix !== '' && !prefix.startsWith('/'))) {
    throw new TypeError(`prefix must be a path starting with '/' (got ${JSON.stringify(options.prefix)})`)
  }
  if (options.errorReply !== undefined && typeof options.errorReply !== 'function') {
    throw new TypeError('errorReply must be a function (error, request) => body')
  }
  const { web } = options
  const { redirects, stateTtlMs } = webOptionsOf(options)
  const { header, ...session } = options.session ?? {}
  await fastify.register(sessionsPlugin, {
    ...session, redis: options.redis, keyPrefix: options.keyPrefix, secretKeys: options.secretKeys, onRevoke: options.onRevoke, hookTimeout: options.hookTimeout
  })
  // Before authenticate, which reads the session cookie it declares.
  if (web !== undefined) await fastify.register(webSessionsPlugin, { cookie: web.cookie })
  await fastify.register(authenticatePlugin, { header, decorators: options.decorators })
  await fastify.register(loginPlugin, {
    resolveUser: options.resolveUser, linkIdentity: options.linkIdentity, codeReplayWindow: options.codeReplayWindow, onLogin: options.onLogin
  })
  // For the app's own routes on our login flow (docs/custom-provider.md): the same error shape and rate limit.
  if (options.errorReply !== undefined) fastify.decorate(kErrorReply, options.errorReply)
  if (options.rateLimit !== undefined) fastify.decorate(kLoginRateLimit, { rateLimit: options.rateLimit })
  const providers = PROVIDERS.filter(({ option }) => options[option] !== undefined)
  const browser = providers.filter((provider) => provider.browser).map(({ option }) => option)
  if (browser.length > 0) {
    if (web === undefined) throw new TypeError(`${browser.join(' and ')} need the web option: { redirects: [...] } (the session cookie, where the login may return to)`)
    await fastify.register(oauthStates, { ttlMs: stateTtlMs })
  }
  for (const { register } of providers) await register(fastify, options)
  if (options.scanLogin !== undefined) await fastify.register(scanLoginPlugin, options.scanLogin === true ? {} : options.scanLogin)
  if (options.webview !== undefined) await fastify.register(webviewPlugin, { webview: options.webview, redirects })
  if (providers.length === 0) {
    fastify.log.info(`fastify-miniprogram-auth: no login routes were added (no ${PROVIDERS.map(({ option }) => option).join(', ')} option): sessions and authenticate only`)
  }
  // Our routes in a scope of their own, where the app's route options reach
  // each of them, and Fastify's logLevel and logSerializers (which it ignores
  // for a fastify-plugin like this one) apply as they would to any plugin.
  const { logLevel, logSerializers } = options as RegisterOptions
  await fastify.register(async function miniprogramAuthRoutes (routes) {
    applyAppRouteOptions(routes, options.routes)
    await routes.register(sessionRoutes, { prefix })
    if (web !== undefined) await routes.register(webRoutes, { prefix })
    for (const provider of providers) await routes.register(provider.routes, { prefix, rateLimit: options.rateLimit, redirects })
    if (options.scanLogin !== undefined) await routes.register(scanRoutes, { prefix, rateLimit: options.rateLimit })
    if (options.webview !== undefined) await routes.register(webviewRoutes, { prefix })
  }, { ...(logLevel === undefined ? {} : { logLevel }), ...(logSerializers === undefined ? {} : { logSerializers }) })
}

const fastifyMiniprogramAuth = fp(miniprogramAuth, {
  name: 'fastify-miniprogram-auth',
  fastify: '5.x'
})
export default fastifyMiniprogramAuth
export { fastifyMiniprogramAuth }
export { default as sessionsPlugin } from './plugins/sessions.js'
export type { SessionsPluginOptions } from './plugins/sessions.js'
export { SessionStore } from './store/sessions.js'
export { createSessionAdmin, SessionAdmin } from './login/session-admin.js'
export type { SessionAdminOptions } from './login/session-admin.js'
export type { HookLog } from './login/hooks.js'
export type { Ban, BanOptions, SessionEnd, UserUpdate } from './store/sessions.js'
export type { SessionCacheConfig, SessionOptions, SessionRule, SessionStoreOptions } from './store/session-options.js'
export type { SecretKey } from './lib/secret-box.js'
export type {
  AuthUser, CreatedSession, CreateSessionOptions, DefaultUser, Exchange, ExchangeContext, FastifyMiniprogramAuth, Identity,
  LoginProvider, LoginResult, Provider, ResolveUser, RevokeEvent, Surface, RevokeOptions, RevokeReason, RevokeTarget, Session, SessionEndReason, SessionSecrets
} from './types.js'
export { default as authenticatePlugin } from './plugins/authenticate.js'
export { default as webSessionsPlugin } from './plugins/web-sessions.js'
export type { WebCookieOptions, WebOptions, WebSessionsPluginOptions } from './plugins/web-sessions.js'
export type { AuthenticatePluginOptions, DecoratorNames } from './plugins/authenticate.js'
export type { AppRouteOptions, AppRouteOptionsOption } from './routes/app-route-options.js'
export type { OnLogin, OnRevoke } from './login/hooks.js'
/** @deprecated `fastify.sessions` is a SessionStore, whose revocations are reported. */
export { SessionStore as ReportedSessionStore } from './store/sessions.js'
export type { LoginEvent, RevocationEvent, StoreEvent, StoreSpan, UpstreamEvent, UpstreamSpan } from './lib/diagnostics.js'
export { default as loginPlugin } from './plugins/login.js'
export type { LoginPluginOptions } from './plugins/login.js'
export { defaultResolveUser } from './login/flow.js'
export type { LinkIdentity, LinkResult, LoginOptions, MiniprogramLogin } from './login/flow.js'
export { default as sessionRoutes } from './routes/session.js'
export type { LoginRoutesOptions } from './routes/scope.js'
export type { LoginRateLimitOptions } from './plugins/login-rate-limit.js'
// For an app's own login routes (docs/custom-provider.md): our rate limit and error replies.
export { limitLogins } from './plugins/login-rate-limit.js'
export { errorContract, errorContractBody } from './plugins/error-contract.js'
export type { ErrorContractBody, ErrorReplyShaper } from './plugins/error-contract.js'
export { default as wechatPlugin } from './plugins/wechat.js'
export type { WechatPluginOptions } from './plugins/wechat.js'
export type { WechatAppOptions } from './providers/wechat/options.js'
export type { PhoneNumber } from './lib/open-data.js'
export type { Code2SessionResult, WechatClient, WechatPhonePayload, WechatUserInfoPayload } from './providers/wechat/provider.js'
export type { Code2SessionClient } from './providers/common/code2session.js'
export { default as wechatRoutes } from './routes/wechat.js'
export { default as alipayPlugin } from './plugins/alipay.js'
export type { AlipayPluginOptions } from './plugins/alipay.js'
export type { AlipayAppOptions } from './providers/alipay/options.js'
export { wechatOaPlugin, wechatWebPlugin, wechatAppPlugin, type WechatOAuthPluginOptions } from './plugins/wechat-oauth.js'
export type { WechatOAuthAppOptions } from './providers/wechat-oauth/options.js'
export type { WechatOAuthClient } from './providers/wechat-oauth/provider.js'
export type { AlipayAuthResult, AlipayClient, AlipayProfile } from './providers/alipay/provider.js'
export type { AlipayPhoneNumber } from './providers/alipay/phone.js'
export { default as alipayRoutes } from './routes/alipay.js'
export { default as douyinPlugin } from './plugins/douyin.js'
export type { DouyinPluginOptions } from './plugins/douyin.js'
export type { DouyinAppOptions } from './providers/douyin/options.js'
export type { DouyinClient, DouyinCodes, DouyinSession } from './providers/douyin/provider.js'
export { default as douyinRoutes } from './routes/douyin.js'
export { default as qqPlugin } from './plugins/qq.js'
export type { QqPluginOptions } from './plugins/qq.js'
export type { QqAppOptions } from './providers/qq/options.js'
export type { QqClient } from './providers/qq/provider.js'
export { default as qqRoutes } from './routes/qq.js'
// WeCom, Kuaishou and Baidu: their plugins, routes, options and clients.
export { default as wecomPlugin, type WecomPluginOptions } from './plugins/wecom.js'
export { default as wecomRoutes } from './routes/wecom.js'
export { default as kuaishouRoutes } from './routes/kuaishou.js'
export { default as baiduRoutes } from './routes/baidu.js'
export { kuaishouPlugin, baiduPlugin, type BaiduPluginOptions, type KuaishouPluginOptions } from './plugins/session-key-platforms.js'
export type { WecomAppOptions } from './providers/wecom/options.js'
export type { WecomClient, WecomSession } from './providers/wecom/provider.js'
export type { KuaishouAppOptions } from './providers/kuaishou/options.js'
export type { KuaishouClient } from './providers/kuaishou/provider.js'
export type { BaiduAppOptions } from './providers/baidu/options.js'
export type { BaiduClient } from './providers/baidu/provider.js'
export type { SessionKeyClient, SessionKeyLogin } from './providers/common/session-key-provider.js'
export type { ScanLoginOptions } from './plugins/scan-login.js'
export type { WebviewOptions } from './plugins/webview.js'
export type { UnlimitedCodeRequest } from './providers/wechat/provider.js'
export * as errors from './errors.js'
// For documenting your own protected routes the way ours are.
export { ErrorReply, errorReplies, User as UserSchema } from './routes/schemas.js'
