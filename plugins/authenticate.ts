import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { isWellFormedSkey } from '../lib/skey.js'
import { rejectUnknownKeys } from '../lib/options.js'
import { isCounted } from '../lib/our-errors.js'
import { errorContract } from './error-contract.js'
import { CookieCsrfError, SessionBannedError, SessionExpiredError, SessionReplacedError, SessionRevokedError, SkeyMalformedError, SkeyMissingError } from '../errors.js'
import { kSessionCookie, kWebSessions } from './web-sessions.js'
import type { SessionEnd } from '../store/sessions.js'
import type { AuthUser, FastifyMiniprogramAuth, Session } from '../types.js'

/**
 * The names of our decorators, for an app that registers another plugin
 * which takes `request.user` (@fastify/jwt, @fastify/passport) or
 * `request.session` (@fastify/session), as @fastify/jwt's `decoratorName`.
 */
export interface DecoratorNames {
  /** The request property with the user. Default 'user'. */
  user?: string
  /** The request property with the session. Default 'session'. */
  session?: string
  /** The instance preHandler that sets both. Default 'authenticate'. */
  authenticate?: string
}

export interface AuthenticatePluginOptions {
  /** The request header that carries the skey. Default 'x-skey'. */
  header?: string
  decorators?: DecoratorNames
}

/** A preHandler (Fastify passes `done`: a cache hit answers without a promise), or awaited by the app. */
type Authenticate = {
  (request: FastifyRequest): Promise<void>
  (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void
}

// The decorators are typed under their default names unless the app declares
// the names it chose (README, "Living beside other plugins"):
//   declare module 'fastify-miniprogram-auth' {
//     interface FastifyMiniprogramAuth { decorators: { user: 'mpaUser', session: 'mpaSession', authenticate: 'mpaAuthenticate' } }
//   }
type Declared = FastifyMiniprogramAuth extends { decorators: infer D } ? D : object
type NameOf<K extends keyof DecoratorNames> = Declared extends { [P in K]: infer N extends string } ? N : K
/** `request.user` and `request.session`, or the names the app declared. */
type RequestDecorations = { [P in NameOf<'user'>]: AuthUser } & { [P in NameOf<'session'>]: Session }
/** `fastify.authenticate`, or the name the app declared. */
type InstanceDecorations = { [P in NameOf<'authenticate'>]: Authenticate }

declare module 'fastify' {
  // Typed non-null (as @fastify/jwt does) because routes behind authenticate
  // always have them; null on routes without it.
  interface FastifyRequest extends RequestDecorations {}
  interface FastifyInstance extends InstanceDecorations {
    [kAuthentication]: Authentication
  }
}

/** What our own routes use, whatever the decorators are called. */
interface Authentication {
  /** The preHandler the app knows as `fastify.authenticate` (or its own name for it). */
  authenticate: Authenticate
  /**
   * `authenticate` for the routes that log out: a session already revoked
   * (a retry after a 503, whose tombstone may not have reached the replicas)
   * has its tombstone made durable before the 401 says it ended.
   */
  authenticateToEnd: (request: FastifyRequest) => Promise<void>
  /** The session `authenticate` set on a request. */
  sessionOf: (request: FastifyRequest) => Session
  /** The skey the request carries (not validated), or null: for a route that hands the same session on (web-view tickets). */
  skeyOf: (request: FastifyRequest) => string | null
}

/** Internal, hence a symbol: our routes' way to the authentication. */
export const kAuthentication = Symbol('mpa-authenticate')

const DECORATOR_KEYS = ['user', 'session', 'authenticate'] as const
const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/
const JSON_TYPE = /^application\/json\s*(;|$)/i

// The 401 of each way a session ends: an expired one logs in again, the others tell the app why.
const ENDED = { revoked: SessionRevokedError, replaced: SessionReplacedError, banned: SessionBannedError } as const

/** The live session of a lookup, or the 401 that says why there is none. */
export function liveSession (found: Session | SessionEnd | null): Session {
  if (found === null) throw new SessionExpiredError()
  if ('ended' in found) throw new ENDED[found.ended]()
  return found
}

const authenticatePlugin: FastifyPluginAsync<AuthenticatePluginOptions> = async (fastify, options) => {
  const header = (options.header ?? 'x-skey')
  if (typeof header !== 'string' || !/^[A-Za-z0-9-]+$/.test(header)) {
    throw new TypeError(`session.header must be an HTTP header name (got ${JSON.stringify(options.header)})`)
  }
  const headerName = header.toLowerCase()
  const names = decoratorNamesOf(options.decorators, fastify)
  // The web surfaces' session cookie (plugins/web-sessions.ts, registered before this one), if any.
  const sessionCookieOf = fastify.hasDecorator(kSessionCookie) ? fastify[kSessionCookie] : null
  const web = fastify.hasDecorator(kWebSessions) ? fastify[kWebSessions] : null
  // The skeys of the requests the cookie authenticated: their replies set it again (below).
  const cookieSkeys = new WeakMap<FastifyRequest, string>()

  // The skey a request carries (header, else Bearer, else the session cookie), or null. Not validated.
  function skeyOf (request: FastifyRequest): string | null {
    const value = request.headers[headerName]
    if (typeof value === 'string' && value !== '') return value
    const authorization = request.headers.authorization
    if (typeof authorization === 'string') return BEARER.exec(authorization)?.[1] ?? authorization
    if (sessionCookieOf === null) return null
    const skey = cookieSkeyOf(request, sessionCookieOf)
    if (skey !== null) cookieSkeys.set(request, skey)
    return skey
  }

  // A browser's session lives on while it is used (the store renews its idle
  // lifetime): a reply to a request the cookie authenticated sets the cookie
  // again, with Max-Age to the session's expiry, or the cookie would lapse at
  // the idle lifetime it had at login. Once per session object: a renewal
  // reads a new one, a cache hit answers the same (a Set-Cookie on every
  // reply doubled the cookie path's CPU). (Awaited by the app, without a reply: not.)
  const cookieSent = new WeakSet<Session>()
  function attachTo (request: FastifyRequest, reply: FastifyReply | undefined, session: Session): void {
    attach(request, session)
    if (web === null || reply === undefined) return
    const skey = cookieSkeys.get(request)
    if (skey === undefined || cookieSent.has(session)) return
    cookieSent.add(session)
    web.start(reply, { skey, expiresAt: session.expiresAt })
  }

  // Null until authenticate runs, for a stable object shape.
  fastify.decorateRequest(names.user, null)
  fastify.decorateRequest(names.session, null)
  function attach (request: FastifyRequest, session: Session): void {
    const target = request as unknown as Record<string, unknown>
    target[names.session] = session
    target[names.user] = session.user
  }

  // What the store knows of the request's skey: at once on a cache hit, else a promise. Throws the 401s of a missing or malformed skey.
  function lookupOf (request: FastifyRequest): Session | SessionEnd | null | Promise<Session | SessionEnd | null> {
    const skey = skeyOf(request)
    if (skey === null) throw new SkeyMissingError(headerName)
    // Reject what cannot be an skey before it costs a Redis call.
    if (!isWellFormedSkey(skey)) throw new SkeyMalformedError()
    return fastify.sessions.lookup(skey)
  }

  // As a preHandler Fastify passes `done`: a cache hit then calls it at once,
  // without a promise (this runs on every authenticated request), and a miss
  // with one callback on the store's promise. Awaited by the app,
  // `authenticate(request)`, it returns a promise.
  function authenticate (request: FastifyRequest): Promise<void>
  function authenticate (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void
  function authenticate (request: FastifyRequest, reply?: FastifyReply, done?: HookHandlerDoneFunction): Promise<void> | undefined {
    let found: ReturnType<typeof lookupOf>
    try {
      found = lookupOf(request)
      if (!(found instanceof Promise)) attachTo(request, reply, liveSession(found))
    } catch (error) {
      if (done === undefined) return Promise.reject(error)
      done(error as Error)
      return
    }
    if (!(found instanceof Promise)) {
      if (done === undefined) return Promise.resolve()
      done()
      return
    }
    if (done === undefined) return found.then((value) => { attachTo(request, reply, liveSession(value)) })
    // While Redis is known to be down, the 503 is answered here, in our
    // contract: the app's error handler would log a line per request.
    const failed = (error: Error) => {
      if (isCounted(error)) errorContract(error as FastifyError, request, reply!)
      else done(error)
    }
    found.then((value) => {
      try {
        attachTo(request, reply, liveSession(value))
      } catch (error) {
        failed(error as Error)
        return
      }
      done()
    }, failed)
  }
  // Both a preHandler (it calls `done`) and awaited by apps (it returns a promise): by design.
  // eslint-disable-next-line @typescript-eslint/no-misused-promises
  fastify.decorate(names.authenticate, authenticate)
  async function authenticateToEnd (request: FastifyRequest): Promise<void> {
    try {
      await authenticate(request)
    } catch (error) {
      if (error instanceof SessionRevokedError) await fastify.sessions.revoke({ skey: skeyOf(request)! }, { reason: 'logout' })
      throw error
    }
  }
  fastify.decorate(kAuthentication, {
    authenticate,
    authenticateToEnd,
    sessionOf: (request: FastifyRequest) => (request as unknown as Record<string, Session>)[names.session]!,
    skeyOf
  })
}

/**
 * What a Fastify request already has (Fastify's Request reference), beside
 * what every object has: a user or session decorator under one of these
 * names would shadow it, merge into it, or throw on the first request.
 */
const REQUEST_MEMBERS = new Set([
  'id', 'params', 'body', 'query', 'headers', 'raw', 'server', 'log', 'ip', 'ips', 'host', 'hostname', 'port', 'protocol', 'method', 'url',
  'originalUrl', 'routeOptions', 'is404', 'socket', 'signal', 'context', 'getValidationFunction', 'compileValidationSchema', 'validateInput',
  'getDecorator', 'setDecorator'
])

/**
 * The session cookie's skey. A browser sends the cookie on a cross-site
 * request too: SameSite=Lax keeps it off cross-site POSTs, and a POST must
 * also be one a cross-origin page cannot send without CORS's preflight (a
 * JSON body or an X-Requested-With header), which covers sibling subdomains
 * (same site, other origin) and browsers without SameSite. Other methods
 * than GET, HEAD and POST are preflighted anyway.
 */
function cookieSkeyOf (request: FastifyRequest, sessionCookieOf: (request: FastifyRequest) => string | undefined): string | null {
  const skey = sessionCookieOf(request)
  if (skey === undefined || skey === '') return null
  if (request.method === 'POST' && request.headers['x-requested-with'] === undefined && !JSON_TYPE.test(request.headers['content-type'] ?? '')) {
    throw new CookieCsrfError()
  }
  return skey
}

/** The decorator names, checked: identifiers, each used once, none that Fastify's request or instance (or any object) already has. */
function decoratorNamesOf (decorators: DecoratorNames | undefined, fastify: FastifyInstance): Required<DecoratorNames> {
  if (decorators !== undefined && (typeof decorators !== 'object' || decorators === null)) {
    throw new TypeError(`decorators must be { user, session, authenticate } (got ${JSON.stringify(decorators)})`)
  }
  rejectUnknownKeys(decorators, DECORATOR_KEYS, 'decorators')
  const names = { user: 'user', session: 'session', authenticate: 'authenticate', ...decorators }
  for (const key of DECORATOR_KEYS) {
    if (typeof names[key] !== 'string' || !IDENTIFIER.test(names[key])) {
      throw new TypeError(`decorators.${key} must be a property name such as 'mpa${key[0]!.toUpperCase()}${key.slice(1)}' (got ${JSON.stringify(names[key])})`)
    }
  }
  if (names.user === names.session) throw new TypeError(`decorators.user and decorators.session must differ (both are '${names.user}')`)
  for (const key of ['user', 'session'] as const) {
    if (REQUEST_MEMBERS.has(names[key]) || names[key] in Object.prototype) {
      throw new TypeError(`decorators.${key} '${names[key]}' is taken: every Fastify request (or every object) has it; pick another name, such as 'mpa${key[0]!.toUpperCase()}${key.slice(1)}'`)
    }
  }
  // The instance's own methods and properties, and any decorator another plugin added.
  if (names.authenticate in fastify) {
    throw new TypeError(`decorators.authenticate '${names.authenticate}' is taken: the Fastify instance already has it; pick another name, such as 'mpaAuthenticate'`)
  }
  return names
}

export default fp(authenticatePlugin, {
  name: 'mpa-authenticate',
  fastify: '5.x',
  dependencies: ['mpa-sessions']
})
