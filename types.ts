import type { FastifyBaseLogger, FastifyRequest } from 'fastify'

// The shared vocabulary: what a login yields, what a session holds, and the
// contract every login provider implements. Types only.

/**
 * A login provider's name: ours, or an app's own (an SMS code, Kuaishou, its
 * own OAuth). Any string; `string & {}` keeps ours offered by autocompletion.
 */
export type Provider = 'wechat' | 'alipay' | 'douyin' | 'qq' | 'wecom' | 'kuaishou' | 'baidu' | (string & {})

/** The kind of client a login came from. */
export type Surface = 'miniprogram' | 'oa' | 'web' | 'app'

/** Who logged in, as the platform told us. */
export interface Identity {
  provider: Provider
  appId: string
  /** Who the user is on the platform: WeChat, QQ, Douyin, Kuaishou or Baidu openid, WeCom `<corpid>:<userid>`, Alipay open_id (for a Douyin anonymous login, the anonymous_openid), or an app's own provider's id (a phone number for an SMS login). */
  openId?: string
  /** Alipay user_id (2088…), for apps that still get one. */
  alipayUserId?: string
  /** WeChat's unionid (the same person across the apps of one open-platform account), where the platform gives it. */
  unionId?: string
  /** Where the user logged in: a mini-program, a WeChat official-account page ('oa'), a website ('web'), a mobile app ('app'). Our providers set it. */
  surface?: Surface
  /** Douyin: the anonymous_openid of the device (tt.login's anonymousCode), to carry over what the user did before logging in. */
  anonymousOpenId?: string
  /** Douyin: true when the user is not logged in to the host app and only the anonymousCode identified them (openId is then the anonymous_openid). */
  anonymous?: boolean
  /** WeCom: the user's corp (corpid); openId is then `<corpId>:<corpUserId>`. */
  corpId?: string
  /** WeCom: the user's UserID in the corp. */
  corpUserId?: string
  /** Profile fields the platform gave (Alipay auth_user scope). */
  profile?: Record<string, unknown>
}

/**
 * Augment this interface to type `request.user` (the `@fastify/jwt` pattern):
 *
 *   declare module 'fastify-miniprogram-auth' {
 *     interface FastifyMiniprogramAuth { user: { id: string, role: 'admin' | 'member' } }
 *   }
 */
export interface FastifyMiniprogramAuth {}

export interface DefaultUser {
  id: string | number
  [field: string]: unknown
}

export type AuthUser = FastifyMiniprogramAuth extends { user: infer U } ? U : DefaultUser

/** Upstream secrets kept with a session: readable by server code, never sent to a client. */
export interface SessionSecrets {
  /** WeChat session_key. */
  sessionKey?: string
  /** Alipay access token. */
  accessToken?: string
  /** Alipay refresh token. */
  refreshToken?: string
}

export interface Session {
  /** sha256 of the skey cut to 128 bits: names the session without revealing the skey. */
  id: string
  provider: Provider
  appId: string
  openId?: string
  alipayUserId?: string
  unionId?: string
  user: AuthUser
  /** The platform part of the login request's User-Agent (the phone), at most 48 characters. */
  device?: string
  createdAt: number
  /** When the session lapses if it is not used (the idle TTL, renewed lazily). */
  expiresAt: number
  /** When the session ends however much it is used. */
  absoluteExpiresAt: number
  /** Non-enumerable, so JSON.stringify and loggers never see it. */
  readonly secrets: SessionSecrets
}

export interface CreatedSession {
  skey: string
  expiresAt: number
  session: Session
  /** Ids of the user's oldest sessions the per-user cap revoked to make room. */
  evicted: string[]
}

export interface CreateSessionOptions {
  user: AuthUser
  secrets?: SessionSecrets
  device?: string
}

/** What a login route answers. */
export interface LoginResult {
  skey: string
  expiresAt: number
  user: AuthUser
  [field: string]: unknown
}

/** Why sessions were revoked. */
export type RevokeReason =
  /** The user logged out this device, or one of their devices (DELETE /session, /sessions/:id). */
  | 'logout'
  /** The user logged out every device (DELETE /sessions). */
  | 'logout-all'
  /** A login went past maxPerUser (overall, or of its platform: one session per platform): the oldest made room. */
  | 'cap'
  /** The app revoked them (`fastify.sessions.revoke`, the admin API). */
  | 'admin'
  /** The user was banned (`fastify.sessions.ban`). */
  | 'ban'
  /** The operator ended every session issued before a moment (`revokeIssuedBefore`). */
  | 'issued-before'

/**
 * How a session that ended early answers: 401 with MPA_SESSION_REVOKED,
 * MPA_SESSION_REPLACED or MPA_SESSION_BANNED. (One that expired, or never
 * was, answers MPA_SESSION_EXPIRED.)
 */
export type SessionEndReason = 'revoked' | 'replaced' | 'banned'

/** What to revoke: one session by its skey, one of a user's sessions by its id, or every session of a user. */
export type RevokeTarget =
  | { skey: string }
  | { userId: string | number, sessionId: string }
  /** Every session of the user, but `except` (a session id) when given: "log out my other devices". */
  | { userId: string | number, except?: string }

export interface RevokeOptions {
  /** Why, as the onRevoke hook and the revocation channel are told. Default 'admin'. */
  reason?: RevokeReason
  /** The request that revoked them, handed to the onRevoke hook (our logout routes pass theirs). */
  request?: FastifyRequest
  /**
   * Revoking every session of a user: this one (a session id) is ended after
   * the others are durable. A logout-all route passes the caller's own, so
   * that its retry after a 503 still authenticates and ends what is left.
   */
  last?: string
}

/** Sessions that ended by one call. */
export interface RevokeEvent {
  reason: RevokeReason
  /** The ids of the revoked sessions (as `fastify.sessions.list` shows them): never empty. */
  sessionIds: string[]
  /** Whose sessions, when the call knew it (a revocation by skey does not). */
  userId?: string
}

/** Finds or creates the application's user for a platform identity. */
export type ResolveUser = (identity: Identity, request: FastifyRequest) => AuthUser | Promise<AuthUser>

/** What a provider's exchange of a login code gives the login flow. */
export interface Exchange {
  identity: Identity
  /** Kept with the session, server-side only. */
  secrets: SessionSecrets
  /** Extra fields for the login reply (no secret). */
  reply?: Record<string, unknown>
}

export interface ExchangeContext {
  /** A configured appId (the flow resolved it with `resolveAppId`). */
  appId: string
  /** The platform scope the code was requested with, where the platform has scopes. */
  scope?: string
  log: FastifyBaseLogger
}

/**
 * A login provider: turns a platform's one-time login code into an identity.
 * The login flow does the rest (replay-safe claim, resolveUser, the session).
 */
export interface LoginProvider {
  readonly name: Provider
  /** The configured appId a login names, or the default one; 400 MPA_UNKNOWN_APP otherwise. */
  resolveAppId: (appId?: string) => string
  /** The longest one exchange can take for this app (its upstream timeouts and retries). */
  exchangeBudgetMs: (appId: string) => number
  exchange: (code: string, context: ExchangeContext) => Promise<Exchange>
}
