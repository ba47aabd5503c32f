import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CookieCsrfError } from '../errors.js'
import { kAuthentication } from '../plugins/authenticate.js'
import { kWebSessions } from '../plugins/web-sessions.js'
import { routeScope } from './scope.js'
import { AUTHENTICATED_ERRORS, errorReplies } from './schemas.js'

/** POST /web/logout: the browser's logout (the cookie's session ended, the cookie cleared). */
const webRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  routeScope(fastify, 'web routes', ['sessions', kAuthentication, kWebSessions])
  const { sessions, [kAuthentication]: { authenticateToEnd, sessionOf }, [kWebSessions]: web } = fastify

  fastify.post('/web/logout', {
    // A browser whose session already ended (401) is logged out too; a refused cross-site post (403) changes nothing.
    preHandler: async (request, reply) => {
      try {
        await authenticateToEnd(request)
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 401) web.clear(reply)
        throw error
      }
    },
    schema: {
      summary: 'Log out this browser (cookie session); send JSON or an X-Requested-With header',
      tags: ['web'],
      response: {
        204: Type.Null({ description: 'Logged out: the session is refused from now on, on every instance, and the cookie is cleared.' }),
        ...errorReplies(...AUTHENTICATED_ERRORS, CookieCsrfError)
      }
    }
  }, async (request, reply) => {
    const session = sessionOf(request)
    await sessions.revoke({ userId: session.user.id, sessionId: session.id }, { reason: 'logout', request })
    web.clear(reply)
    return reply.code(204).send(null)
  })
}

export default webRoutes
