import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { RedirectRefusedError, SessionExpiredError, TicketUnknownError } from '../errors.js'
import { kAuthentication, liveSession } from '../plugins/authenticate.js'
import { kWebSessions } from '../plugins/web-sessions.js'
import { kWebview } from '../plugins/webview.js'
import { webviewRedirect } from '../lib/redirects.js'
import { routeScope } from './scope.js'
import { AUTHENTICATED_ERRORS, VALIDATION_ERRORS, errorReplies } from './schemas.js'
import * as errors from '../errors.js'

// Web-view pages inside the mini-program: the mini-program asks for a
// one-time ticket with its skey, and opens /webview?ticket=…&redirect=…; the
// ticket becomes the same session's cookie (the skey never travels in a URL),
// so ending the session ends the web-view's too.

const Ticket = Type.String({ pattern: '^[A-Za-z0-9_-]{22}$', description: 'The one-time ticket from POST /webview/tickets.' })

/** POST /webview/tickets (the mini-program) and GET /webview (the web-view). */
const webviewRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  routeScope(fastify, 'web-view routes', ['sessions', kAuthentication, kWebview, kWebSessions])
  const { sessions, [kAuthentication]: { authenticate, skeyOf }, [kWebview]: { tickets, ticketTtlMs, redirects }, [kWebSessions]: web } = fastify

  fastify.post('/webview/tickets', {
    preHandler: authenticate,
    schema: {
      summary: 'A one-time ticket that opens this session in a web-view',
      tags: ['webview'],
      response: {
        200: Type.Object({
          ticket: Ticket,
          expiresAt: Type.Number({ description: 'Epoch ms: redeem it before, once.' })
        }, { description: 'A one-time ticket: open {prefix}/webview?ticket=…&redirect=… in the web-view.' }),
        ...errorReplies(...AUTHENTICATED_ERRORS)
      }
    }
  }, async (request) => tickets.issue(skeyOf(request)!, ticketTtlMs))

  fastify.get('/webview', {
    schema: {
      summary: 'Redeems a web-view ticket: the session\'s cookie, then a redirect within this site',
      tags: ['webview'],
      querystring: Type.Object({
        ticket: Ticket,
        redirect: Type.Optional(Type.String({ maxLength: 2048, description: 'A path of this site (\'/orders?id=1\'), or a URL the web.redirects option allows. Default \'/\'.' }))
      }),
      response: {
        302: Type.Null({ description: 'The cookie is set; Location is the redirect.' }),
        ...errorReplies(TicketUnknownError, RedirectRefusedError, SessionExpiredError, errors.SessionRevokedError, errors.SessionReplacedError,
          errors.SessionBannedError, errors.StoreUnavailableError, ...VALIDATION_ERRORS)
      }
    }
  }, async (request, reply) => {
    // Checked first: a refused redirect leaves the ticket unspent.
    const target = webviewRedirect(request.query.redirect ?? '/', redirects)
    if (target === null) throw new RedirectRefusedError()
    const { ticket } = request.query
    const skey = await tickets.redeem(ticket)
    if (skey === null) throw new TicketUnknownError()
    const session = liveSession(await sessions.lookup(skey))
    // The cookie's lifetime is the session's idle one, as every web login's (docs/wechat-web.md).
    web.start(reply, { skey, expiresAt: session.expiresAt })
    reply.header('cache-control', 'no-store')
    return reply.redirect(target, 302)
  })
}

export default webviewRoutes
