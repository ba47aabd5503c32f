import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import sessionsPlugin from './plugins/sessions.js'
import authenticatePlugin from './plugins/authenticate.js'
import loginPlugin from './plugins/login.js'
import sessionRoutes from './routes/session.js'
import wechatPlugin from './plugins/wechat.js'
import wechatRoutes from './routes/wechat.js'
import alipayPlugin from './plugins/alipay.js'
import alipayRoutes from './routes/alipay.js'
import type { AlipayAppOptions } from './providers/alipay/options.js'
import type { WechatAppOptions } from './providers/wechat/options.js'
import type { SessionOptions } from './store/session-options.js'
import type { ResolveUser } from './types.js'
import type { LoginRateLimitOptions } from './plugins/login-rate-limit.js'

export interface MiniprogramAuthOptions {
  /** Prefix of the login and session routes. Default '/auth'. */
  prefix?: string
  /** An ioredis Redis or Cluster; defaults to `fastify.redis` from @fastify/redis. */
  redis?: Redis | Cluster
  /** Prefix of every Redis key. Default 'mpa:'. */
  keyPrefix?: string
  session?: SessionOptions & {
    /** The request header that carries the skey. Default 'x-skey'. */
    header?: string
  }
  /** Finds or creates the application's user; what it returns becomes `request.user`. */
  resolveUser?: ResolveUser
  /** How long a retry of the same login code gets the same answer. Default '60s'. */
  codeReplayWindow?: number | string
  /**
   * Logins per client over the login routes, counted in Redis across every
   * instance: default 100 a minute per address (set Fastify's `trustProxy`
   * behind a proxy). `false` turns it off.
   */
  rateLimit?: LoginRateLimitOptions | false
  /** One WeChat mini-program, or several served by one backend (the login body's appId picks one; the first is the default). */
  wechat?: WechatAppOptions | WechatAppOptions[]
  /** One Alipay mini-program (key mode or certificate mode), or several. */
  alipay?: AlipayAppOptions | AlipayAppOptions[]
}

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
    // Fastify logs a malformed request at trace level with its raw bytes, headers and body included.
    'err.rawPacket'
  ]
}

const miniprogramAuth: FastifyPluginAsync<MiniprogramAuthOptions> = async (fastify, options) => {
  const prefix = options.prefix ?? '/auth'
  if (typeof prefix !== 'string' || (prefix !== '' && !prefix.startsWith('/'))) {
    throw new TypeError(`prefix must be a path starting with '/' (got ${JSON.stringify(options.prefix)})`)
  }
  const { header, ...session } = options.session ?? {}
  await fastify.register(sessionsPlugin, { ...session, redis: options.redis, keyPrefix: options.keyPrefix })
  await fastify.register(authenticatePlugin, { header })
  await fastify.register(loginPlugin, { resolveUser: options.resolveUser, codeReplayWindow: options.codeReplayWindow })
  await fastify.register(sessionRoutes, { prefix })
  if (options.wechat !== undefined) {
    await fastify.register(wechatPlugin, { apps: options.wechat })
    await fastify.register(wechatRoutes, { prefix, rateLimit: options.rateLimit })
  }
  if (options.alipay !== undefined) {
    await fastify.register(alipayPlugin, { apps: options.alipay })
    await fastify.register(alipayRoutes, { prefix, rateLimit: options.rateLimit })
  }
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
export type { SessionCacheConfig, SessionOptions, SessionStoreOptions } from './store/session-options.js'
export type {
  AuthUser, CreatedSession, CreateSessionOptions, DefaultUser, Exchange, ExchangeContext, FastifyMiniprogramAuth, Identity,
  LoginProvider, LoginResult, Provider, ResolveUser, Session, SessionSecrets
} from './types.js'
export { default as authenticatePlugin } from './plugins/authenticate.js'
export type { AuthenticatePluginOptions } from './plugins/authenticate.js'
export { default as loginPlugin } from './plugins/login.js'
export type { LoginPluginOptions } from './plugins/login.js'
export { defaultResolveUser } from './login/flow.js'
export type { LoginOptions, MiniprogramLogin } from './login/flow.js'
export { default as sessionRoutes } from './routes/session.js'
export type { LoginRoutesOptions } from './routes/scope.js'
export type { LoginRateLimitOptions } from './plugins/login-rate-limit.js'
export { default as wechatPlugin } from './plugins/wechat.js'
export type { WechatPluginOptions } from './plugins/wechat.js'
export type { WechatAppOptions } from './providers/wechat/options.js'
export type { PhoneNumber } from './providers/wechat/crypto.js'
export type { Code2SessionResult, WechatClient, WechatPhonePayload, WechatUserInfoPayload } from './providers/wechat/provider.js'
export { default as wechatRoutes } from './routes/wechat.js'
export { default as alipayPlugin } from './plugins/alipay.js'
export type { AlipayPluginOptions } from './plugins/alipay.js'
export type { AlipayAppOptions } from './providers/alipay/options.js'
export type { AlipayAuthResult, AlipayClient, AlipayProfile } from './providers/alipay/provider.js'
export { default as alipayRoutes } from './routes/alipay.js'
export * as errors from './errors.js'
// For documenting your own protected routes the way ours are.
export { ErrorReply, errorReplies, User as UserSchema } from './routes/schemas.js'
