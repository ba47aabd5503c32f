import type { FastifyRequest } from 'fastify'
import { AnonymousLoginRefusedError, CodeInvalidError, InternalError, MisconfiguredError } from '../errors.js'
import { publishLogin } from '../lib/diagnostics.js'
import { isOurError } from '../lib/our-errors.js'
import { defaultUserIdOf } from '../store/session-record.js'
import type { ClaimedCode, CodeClaims, LoginFailure } from '../store/code-claims.js'
import type { SessionStore } from '../store/sessions.js'
import type { AuthUser, Exchange, Identity, LoginProvider, LoginResult, Provider, ResolveUser, Session } from '../types.js'
import type { AppHooks } from './hooks.js'

export interface LoginOptions {
  /** Which configured app the code belongs to; default the provider's first. */
  appId?: string
  /** The platform scope the code was requested with (Alipay: auth_base or auth_user). */
  scope?: string
}

/** What a link answers (and a retry of its code by the same user). */
export interface LinkResult {
  linked: { provider: Provider, appId: string }
}

/**
 * Adds a platform identity to a user who is logged in (a second platform, or
 * another surface of the same one). Throw `IdentityInUseError` (409) when
 * another user owns it; anything else thrown fails the link as resolveUser's
 * errors fail a login.
 */
export type LinkIdentity = (user: AuthUser, identity: Identity, request: FastifyRequest) => void | Promise<void>

/** How a claimed code ends: its first exchange, or a replay of the stored answer. */
interface Finish<R> {
  first: (provider: LoginProvider, claim: ClaimedCode, exchanged: Exchange, appId: string) => Promise<{ result: R, after: () => void }>
  replay: (answer: string) => Promise<R>
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
  /**
   * The same claim and exchange for a user who is logged in: the identity goes
   * to the app's linkIdentity instead of a new session.
   */
  link: (request: FastifyRequest, provider: Provider, code: string, user: AuthUser, options?: LoginOptions) => Promise<LinkResult>
  /** Whether the app gave linkIdentity (the link routes exist only then). */
  readonly linking: boolean
  /**
   * A session made without a code of its own (a scan login's browser, for the
   * user who confirmed it), reported as a login is: the login event, then
   * `onLogin` beside the reply. `startedAt`: the request's performance.now().
   */
  loggedIn: (request: FastifyRequest, identity: Identity, session: Session, startedAt: number) => void
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
    private readonly hooks: AppHooks,
    private readonly linkIdentity?: LinkIdentity
  ) {}

  get linking (): boolean {
    return this.linkIdentity !== undefined
  }

  addProvider (provider: LoginProvider): void {
    if (this.#providers.has(provider.name)) throw new TypeError(`a ${provider.name} login provider is already registered`)
    this.#providers.set(provider.name, provider)
  }

  async login (request: FastifyRequest, name: Provider, code: string, options: LoginOptions = {}): Promise<LoginResult> {
    return this.#observed(name, false, (seen) => this.#claimed(request, name, code, options, seen, {
      first: (provider, claim, exchanged, appId) => this.#firstLogin(request, provider, claim, exchanged, appId),
      replay: (answer) => this.#replay(answer)
    }))
  }

  async link (request: FastifyRequest, name: Provider, code: string, user: AuthUser, options: LoginOptions = {}): Promise<LinkResult> {
    const linkIdentity = this.linkIdentity
    if (linkIdentity === undefined) throw new MisconfiguredError('linking needs the linkIdentity option')
    const userId = String(user.id)
    return this.#observed(name, true, (seen) => this.#claimed(request, name, code, options, seen, {
      first: async (provider, claim, { identity }, appId) => {
        // A guest (Douyin's anonymous login) is a device, not an account to link.
        if (identity.anonymous === true) throw new AnonymousLoginRefusedError()
        await linkIdentity(user, identity, request)
        const result: LinkResult = { linked: { provider: provider.name, appId } }
        await this.claims.settle(claim, JSON.stringify({ linkedBy: userId, result }))
        request.log.info({ provider: provider.name, appId, userId }, 'identity linked')
        return { result, after: () => {} }
      },
      // A retry by the same user gets the same answer; the code is spent for anyone else, and for a login.
      replay: async (answer) => {
        const stored = JSON.parse(answer) as { linkedBy?: string, result: LinkResult }
        if (stored.linkedBy !== userId) throw new CodeInvalidError('already used')
        return stored.result
      }
    }))
  }

  /** A login or link, with its event. `seen` learns the appId once it is resolved. */
  async #observed<R> (name: Provider, link: boolean, run: (seen: { appId?: string }) => Promise<{ result: R, replay: boolean }>): Promise<R> {
    const started = performance.now()
    const seen: { appId?: string } = {}
    const kind = link ? { link: true as const } : {}
    try {
      const { result, replay } = await run(seen)
      publishLogin({ provider: name, ...seen, ...kind, outcome: 'success', replay, durationMs: performance.now() - started })
      return result
    } catch (err) {
      const { statusCode, code } = failureOf(err)
      publishLogin({ provider: name, ...seen, ...kind, outcome: 'failure', replay: false, code, statusCode, durationMs: performance.now() - started })
      throw err
    }
  }

  /** Claims the code (once across every instance), then exchanges it and finishes, or answers a replay. */
  async #claimed<R> (request: FastifyRequest, name: Provider, code: string, { appId: requested, scope }: LoginOptions, seen: { appId?: string }, finish: Finish<R>) {
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
      return { result: await finish.replay(claim.replay), replay: true }
    }
    let finished: { result: R, after: () => void }
    try {
      const exchanged = await provider.exchange(code, { appId, scope, log: request.log })
      finished = await finish.first(provider, claim, exchanged, appId)
    } catch (err) {
      await this.claims.fail(claim, failureOf(err))
      throw err
    }
    // After the claim is settled, beside the reply: the login stands whatever the hook does.
    finished.after()
    return { result: finished.result, replay: false }
  }

  loggedIn (request: FastifyRequest, identity: Identity, session: Session, startedAt: number): void {
    publishLogin({ provider: identity.provider, appId: identity.appId, outcome: 'success', replay: false, durationMs: performance.now() - startedAt })
    this.hooks.login(identity, session, request)
  }

  /** The first post of a login code: resolveUser, the session, the claim settled with the answer in the same round trip. */
  async #firstLogin (request: FastifyRequest, provider: LoginProvider, claim: ClaimedCode, { identity, secrets, reply }: Exchange, appId: string) {
    const user = await this.resolveUser(identity, request)
    const device = request.headers['user-agent']
    let result: LoginResult | undefined
    const { session } = await this.sessions.create(identity, { user, secrets, ...(device ? { device } : {}) }, async ({ skey, expiresAt }) => {
      result = { skey, expiresAt, user, ...reply }
      await this.claims.settle(claim, JSON.stringify(result))
    })
    request.log.info({ provider: provider.name, appId, sessionId: session.id, userId: session.user.id }, 'login')
    return { result: result!, after: () => this.hooks.login(identity, session, request) }
  }

  /** The longest a login may hold its code before another may try it: derived from the configured timeouts. */
  #pendingMs (provider: LoginProvider, appId: string): number {
    return provider.exchangeBudgetMs(appId) + STORE_STEPS * this.sessions.storeTimeoutMs + RESOLVE_USER_ALLOWANCE_MS
  }

  async #replay (answer: string): Promise<LoginResult> {
    const result = JSON.parse(answer) as LoginResult | { linkedBy: string }
    // The code linked an identity: spent, and no login.
    if ('linkedBy' in result) throw new CodeInvalidError('already used')
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
