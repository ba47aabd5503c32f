import type { FastifyRequest } from 'fastify'
import { CodeInvalidError, InternalError, MisconfiguredError } from '../errors.js'
import { publishLogin } from '../lib/diagnostics.js'
import { isOurError } from '../lib/our-errors.js'
import { defaultUserIdOf } from '../store/session-record.js'
import type { ClaimedCode, CodeClaims, LoginFailure } from '../store/code-claims.js'
import type { SessionStore } from '../store/sessions.js'
import type { AuthUser, LoginProvider, LoginResult, Provider, ResolveUser } from '../types.js'
import type { AppHooks } from './hooks.js'

export interface LoginOptions {
  /** Which configured app the code belongs to; default the provider's first. */
  appId?: string
  /** The platform scope the code was requested with (Alipay: auth_base or auth_user). */
  scope?: string
}

export interface MiniprogramLogin {
  /** Makes a provider's logins available (each provider plugin adds its own; an app adds its own providers). */
  addProvider: (provider: LoginProvider) => void
  /**
   * A whole login, once per code across every instance: the provider
   * exchanges the code, resolveUser finds the user, a new session holds the
   * upstream secrets. A retry of the code within the replay window gets the
   * first answer back while its session lives; a concurrent one waits for it.
   */
  login: (request: FastifyRequest, provider: Provider, code: string, options?: LoginOptions) => Promise<LoginResult>
}

// An app that augments the user type passes its own resolveUser. (AuthUser is
// the app's declared type, which this default cannot know: hence the cast.)
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
export const defaultResolveUser: ResolveUser = (identity) => ({ id: defaultUserIdOf(identity) }) as unknown as AuthUser

// What a login may spend, besides its exchange and its Redis steps (each
// bounded by the store timeout), in the app's own resolveUser.
const RESOLVE_USER_ALLOWANCE_MS = 10_000
// Redis steps of a login: the claim, the provider's record, the session (and what its cap replaces: three more).
const STORE_STEPS = 6
const CODE_INVALID = new CodeInvalidError('').code

/** The login flow every provider shares: route → here → provider exchange → store. */
export class LoginFlow implements MiniprogramLogin {
  readonly #providers = new Map<Provider, LoginProvider>()

  constructor (
    private readonly claims: CodeClaims,
    private readonly sessions: SessionStore,
    private readonly resolveUser: ResolveUser,
    private readonly hooks: AppHooks
  ) {}

  addProvider (provider: LoginProvider): void {
    if (this.#providers.has(provider.name)) throw new TypeError(`a ${provider.name} login provider is already registered`)
    this.#providers.set(provider.name, provider)
  }

  async login (request: FastifyRequest, name: Provider, code: string, options: LoginOptions = {}): Promise<LoginResult> {
    const started = performance.now()
    const seen: { appId?: string } = {}
    try {
      const { result, replay } = await this.#login(request, name, code, options, seen)
      publishLogin({ provider: name, ...seen, outcome: 'success', replay, durationMs: performance.now() - started })
      return result
    } catch (err) {
      const { statusCode, code } = failureOf(err)
      publishLogin({ provider: name, ...seen, outcome: 'failure', replay: false, code, statusCode, durationMs: performance.now() - started })
      throw err
    }
  }

  /** The login; `seen` learns the appId once it is resolved, for the login event. */
  async #login (request: FastifyRequest, name: Provider, code: string, { appId: requested, scope }: LoginOptions, seen: { appId?: string }) {
    const provider = this.#providers.get(name)
    if (!provider) throw new MisconfiguredError(`no ${name} login provider is registered`)
    const appId = provider.resolveAppId(requested)
    seen.appId = appId
    const claim = await this.claims.claim(`${name}:${appId}`, code, this.#pendingMs(provider, appId))
    if (!claim.claimed) {
      if ('failure' in claim) {
        const { statusCode, code, message } = claim.failure
        throw Object.assign(new Error(message), { statusCode, code })
      }
      return { result: await this.#replay(claim.replay), replay: true }
    }
    const { identity, session, result } = await this.#firstLogin(request, provider, claim, code, { appId, scope })
    // After the claim is settled, beside the reply: the login stands whatever the hook does.
    this.hooks.login(identity, session, request)
    return { result, replay: false }
  }

  /** The first post of a code: exchange, resolveUser, the session; the claim settled with the answer, or failed. */
  async #firstLogin (request: FastifyRequest, provider: LoginProvider, claim: ClaimedCode, code: string, { appId, scope }: { appId: string, scope?: string }) {
    try {
      const { identity, secrets, reply } = await provider.exchange(code, { appId, scope, log: request.log })
      const user = await this.resolveUser(identity, request)
      const device = request.headers['user-agent']
      let result: LoginResult | undefined
      // The answer is kept for replays in the same round trip as the session's writes.
      const { session } = await this.sessions.create(identity, { user, secrets, ...(device ? { device } : {}) }, async ({ skey, expiresAt }) => {
        result = { skey, expiresAt, user, ...reply }
        await this.claims.settle(claim, JSON.stringify(result))
      })
      request.log.info({ provider: provider.name, appId, sessionId: session.id, userId: session.user.id }, 'login')
      return { identity, session, result: result! }
    } catch (err) {
      await this.claims.fail(claim, failureOf(err))
      throw err
    }
  }

  /** The longest a login may hold its code before another may try it: derived from the configured timeouts. */
  #pendingMs (provider: LoginProvider, appId: string): number {
    return provider.exchangeBudgetMs(appId) + STORE_STEPS * this.sessions.storeTimeoutMs + RESOLVE_USER_ALLOWANCE_MS
  }

  async #replay (answer: string): Promise<LoginResult> {
    const result = JSON.parse(answer) as LoginResult
    // Logged out since: the code is spent, and its skey would be refused.
    if (await this.sessions.get(result.skey) === null) throw new CodeInvalidError('already used, and the session it gave has ended')
    return result
  }
}

/**
 * A failure as the other posts of the code are told it. The platform refused
 * the code (invalid or used): refused for good. An unexpected 5xx keeps its
 * message (which may name a database or worse) to this request's log.
 */
function failureOf (err: unknown): LoginFailure {
  // Anything may be thrown (null, an object whose getters throw): this must
  // still answer, or the claim would stay pending and block the code's retries.
  let statusCode: unknown, code: unknown, message: unknown
  try {
    ({ statusCode, code, message } = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>)
  } catch {}
  const status = typeof statusCode === 'number' && statusCode >= 400 && statusCode <= 599 ? statusCode : 500
  if (status >= 500 && !isOurError(err)) {
    const internal = new InternalError()
    return { statusCode: status, code: internal.code, message: internal.message, refused: false }
  }
  return {
    statusCode: status,
    code: typeof code === 'string' ? code : '',
    message: typeof message === 'string' ? message : '',
    refused: code === CODE_INVALID
  }
}
