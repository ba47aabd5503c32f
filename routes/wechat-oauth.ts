import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import {
  InternalError, OAuthRefusedError, OAuthStateForeignError, OAuthStateInvalidError, RateLimitedError, RedirectRefusedError, StoreUnavailableError, UnknownAppError
} from '../errors.js'
import { sha256Base64url } from '../lib/hash.js'
import { allowedRedirect, type AllowedRedirect } from '../lib/redirects.js'
import { kAuthentication } from '../plugins/authenticate.js'
import { limitLogins } from '../plugins/login-rate-limit.js'
import { kWebSessions } from '../plugins/web-sessions.js'
import { kOAuthStates } from '../plugins/wechat-oauth.js'
import type { OAuthSurface } from '../providers/wechat-oauth/options.js'
import { codeBody, fromCodeBody, loginRoute } from './login-route.js'
import { routeScope, type LoginRoutesOptions } from './scope.js'
import { AppId, LOGIN_ERRORS, VALIDATION_ERRORS, errorReplies } from './schemas.js'

/** What the browser logins' routes are given besides the login options: the `web.redirects` allow-list, checked. */
export interface BrowserRoutesOptions extends LoginRoutesOptions {
  redirects?: AllowedRedirect[]
}

// WeChat's codes are 32 characters; the state is ours (22), and WeChat hands it back unchanged.
const Code = Type.String({ minLength: 1, maxLength: 128, description: 'The code WeChat gave (single use, 5 minutes).' })
const State = Type.String({ minLength: 1, maxLength: 128, description: 'The state of the authorize redirect.' })
const Redirect = Type.String({ minLength: 1, maxLength: 2048, description: 'Where to send the browser after the login: on the web.redirects allow-list.' })
const Found = (description: string) => Type.Null({ description })

/**
 * GET /<surface>/authorize?redirect= and GET /<surface>/callback?code&state:
 * a browser login through WeChat's consent page. The state is single-use,
 * short-lived and bound to the browser; the callback logs in through the
 * login flow, sets the session cookie and redirects only to an allowed target.
 */
export function browserLoginRoutes (surface: OAuthSurface): FastifyPluginAsyncTypebox<BrowserRoutesOptions> {
  return async (fastify, options) => {
    routeScope(fastify, `${surface.name} routes`, [surface.name, 'miniprogramLogin', kWebSessions, kOAuthStates])
    const { miniprogramLogin, [kWebSessions]: web, [kOAuthStates]: states, [surface.name]: provider } = fastify
    const redirects = options.redirects ?? []
    const config = { ...await limitLogins(fastify, options.rateLimit), loginProvider: surface.name }

    fastify.get('/' + surface.name + '/authorize', {
      config,
      schema: {
        summary: `Start a ${surface.name} login: redirects the browser to WeChat's consent page`,
        tags: [surface.name],
        querystring: Type.Object({ redirect: Redirect, appId: Type.Optional(AppId) }),
        response: {
          302: Found('To WeChat\'s consent page, with a state bound to this browser (and its nonce cookie set).'),
          ...errorReplies(RedirectRefusedError, UnknownAppError, RateLimitedError, StoreUnavailableError, InternalError, ...VALIDATION_ERRORS)
        }
      }
    }, async (request, reply) => {
      const target = allowedRedirect(request.query.redirect, redirects)
      if (target === null) throw new RedirectRefusedError()
      const appId = provider.resolveAppId(request.query.appId)
      const browser = sha256Base64url(web.browserOf(request, reply))
      const state = await states.create({ provider: surface.name, appId, browser, redirect: target })
      return reply.redirect(provider.authorizeUrl(appId, state), 302)
    })

    fastify.get('/' + surface.name + '/callback', {
      config,
      schema: {
        summary: 'Where WeChat sends the browser back: logs in, sets the session cookie, redirects to the target',
        tags: [surface.name],
        querystring: Type.Object({ code: Type.Optional(Code), state: State }),
        response: {
          302: Found('Logged in: the session cookie is set, and the browser goes to the target the login started with.'),
          ...errorReplies(OAuthStateInvalidError, OAuthStateForeignError, OAuthRefusedError, RedirectRefusedError, ...VALIDATION_ERRORS, ...LOGIN_ERRORS)
        }
      }
    }, async (request, reply) => {
      const { code, state } = request.query
      const bound = web.boundBrowserOf(request)
      // Taken whatever follows: a state is good for one try.
      const found = await states.take(state)
      if (found === null || found.provider !== surface.name) throw new OAuthStateInvalidError()
      if (bound === null || sha256Base64url(bound) !== found.browser) throw new OAuthStateForeignError()
      // WeChat sends the state without a code when the user refused.
      if (code === undefined) throw new OAuthRefusedError()
      const result = await miniprogramLogin.login(request, surface.name, code, { appId: found.appId })
      web.start(reply, result)
      // Checked when the state was made; again here, against today's allow-list.
      return reply.redirect(allowedRedirect(found.redirect, redirects) ?? fail(new RedirectRefusedError()), 302)
    })
  }
}

function fail (error: Error): never {
  throw error
}

/** POST /wechat-app/login { code, appId? }: the mobile app's SDK code, as a mini-program's login (and its link route). */
export const wechatAppRoutes: FastifyPluginAsyncTypebox<LoginRoutesOptions> = async (fastify, options) => {
  routeScope(fastify, 'wechat-app routes', ['wechat-app', 'miniprogramLogin', kAuthentication])
  await loginRoute(fastify, { provider: 'wechat-app', call: 'the WeChat SDK\'s SendAuth', body: codeBody(Code), code: fromCodeBody, errors: [], rateLimit: options.rateLimit })
}
