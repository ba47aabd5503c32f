import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { Type, type Static, type TObject, type TString } from 'typebox'
import { IdentityInUseError } from '../errors.js'
import type { LoginOptions } from '../login/flow.js'
import { kAuthentication } from '../plugins/authenticate.js'
import { limitLogins, type LoginRateLimitOptions } from '../plugins/login-rate-limit.js'
import type { Provider } from '../types.js'
import { AppId, AUTHENTICATED_ERRORS, LOGIN_ERRORS, LinkReply, LoginReply, errorReplies, type ErrorSource } from './schemas.js'

/** What a platform's login route is made of. */
export interface LoginRoute<Body extends TObject> {
  provider: Provider
  /** The platform call that gives the code ('wx.login'), for the docs. */
  call: string
  /** The body schema: the platform's code(s), the appId, and whatever else its login takes. */
  body: Body
  /** The login code the flow claims, and its options, from the body. */
  code: (body: Static<Body>) => { code: string, options: LoginOptions }
  /** The reply schema; default LoginReply. */
  reply?: TObject
  /** Errors of the platform's own, beyond LOGIN_ERRORS. */
  errors: ErrorSource[]
  /** The login rate limit: the app's `rateLimit` option. */
  rateLimit: LoginRateLimitOptions | false | undefined
}

/**
 * POST /<provider>/login: the rate limit, the body checked, then one call to
 * the login flow. With the app's linkIdentity, POST /<provider>/link too: the
 * same body and flow for a user who is logged in.
 */
export async function loginRoute<Body extends TObject> (fastify: FastifyInstance, route: LoginRoute<Body>): Promise<void> {
  const { miniprogramLogin } = fastify
  const config = { ...await limitLogins(fastify, route.rateLimit), loginProvider: route.provider }
  fastify.withTypeProvider<TypeBoxTypeProvider>().post(`/${route.provider}/login`, {
    config,
    schema: {
      summary: `Log in with a ${route.call} code`,
      tags: [route.provider],
      body: route.body,
      response: { 200: route.reply ?? LoginReply, ...errorReplies(...LOGIN_ERRORS, ...route.errors) }
    }
  }, async (request) => {
    const { code, options } = route.code(request.body as Static<Body>)
    return miniprogramLogin.login(request, route.provider, code, options)
  })
  if (!miniprogramLogin.linking) return
  const { authenticate, sessionOf } = fastify[kAuthentication]
  fastify.withTypeProvider<TypeBoxTypeProvider>().post(`/${route.provider}/link`, {
    config,
    preHandler: authenticate,
    schema: {
      summary: `Link a ${route.call} identity to the logged-in user`,
      tags: [route.provider],
      body: route.body,
      response: { 200: LinkReply, ...errorReplies(...LOGIN_ERRORS, ...AUTHENTICATED_ERRORS, IdentityInUseError, ...route.errors) }
    }
  }, async (request) => {
    const { code, options } = route.code(request.body as Static<Body>)
    return miniprogramLogin.link(request, route.provider, code, sessionOf(request).user, options)
  })
}

/** The login body of the platforms whose login call gives one code (wx.login, qq.login): `{ code, appId? }`. */
export function codeBody (code: TString) {
  return Type.Object({ code, appId: Type.Optional(AppId) })
}

/** The login code and appId of a `codeBody`. */
export function fromCodeBody ({ code, appId }: { code: string, appId?: string | undefined }): { code: string, options: LoginOptions } {
  return { code, options: { appId } }
}
