import fp from 'fastify-plugin'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { isWellFormedSkey } from '../lib/skey.js'
import { SessionExpiredError, SkeyMalformedError, SkeyMissingError } from '../errors.js'
import type { AuthUser, Session } from '../types.js'

export interface AuthenticatePluginOptions {
  /** The request header that carries the skey. Default 'x-skey'. */
  header?: string
}

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler: resolves the skey to `request.session` and `request.user`, or answers 401. */
    authenticate: (request: FastifyRequest) => Promise<void>
  }
  interface FastifyRequest {
    /** Set by `fastify.authenticate`; null on routes without it. */
    user: AuthUser
    /** Set by `fastify.authenticate`; null on routes without it. */
    session: Session
  }
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i

const authenticatePlugin: FastifyPluginAsync<AuthenticatePluginOptions> = async (fastify, options) => {
  const header = (options.header ?? 'x-skey')
  if (typeof header !== 'string' || !/^[A-Za-z0-9-]+$/.test(header)) {
    throw new TypeError(`session.header must be an HTTP header name (got ${JSON.stringify(options.header)})`)
  }
  const headerName = header.toLowerCase()

  // The skey a request carries (header, else Bearer), or null. Not validated.
  function skeyOf (request: FastifyRequest): string | null {
    const value = request.headers[headerName]
    if (typeof value === 'string' && value !== '') return value
    const authorization = request.headers.authorization
    if (typeof authorization === 'string') return BEARER.exec(authorization)?.[1] ?? authorization
    return null
  }

  // Typed non-null (as @fastify/jwt does) because routes behind authenticate
  // always have them; null elsewhere, for a stable object shape.
  fastify.decorateRequest('user', null as unknown as AuthUser)
  fastify.decorateRequest('session', null as unknown as Session)
  fastify.decorate('authenticate', async function authenticate (request: FastifyRequest) {
    const skey = skeyOf(request)
    if (skey === null) throw new SkeyMissingError(headerName)
    // Reject what cannot be an skey before it costs a Redis call.
    if (!isWellFormedSkey(skey)) throw new SkeyMalformedError()
    const session = await fastify.sessions.get(skey)
    if (session === null) throw new SessionExpiredError()
    request.session = session
    request.user = session.user
  })
}

export default fp(authenticatePlugin, {
  name: 'mpa-authenticate',
  fastify: '5.x',
  dependencies: ['mpa-sessions']
})
