import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { SessionNotFoundError } from '../errors.js'
import { kAuthentication } from '../plugins/authenticate.js'
import { routeScope } from './scope.js'
import { AUTHENTICATED_ERRORS, SessionView, User, VALIDATION_ERRORS, errorReplies } from './schemas.js'
import { SESSION_ID_PATTERN } from '../lib/skey.js'
import type { Session } from '../types.js'

function view (session: Session, current?: boolean) {
  return current === undefined ? session : { ...session, current }
}

/** GET/DELETE /session and /sessions: the current session and this user's devices. */
const sessionRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  routeScope(fastify, 'session routes', ['sessions', kAuthentication])
  // Every route here needs a session; those that end one make a retry's 401 durable.
  const { sessions, [kAuthentication]: { authenticate, authenticateToEnd, sessionOf } } = fastify

  fastify.get('/session', {
    preHandler: authenticate,
    schema: {
      summary: 'The current user and session (a server-side checkSession)',
      tags: ['session'],
      response: {
        200: Type.Object({ user: User, session: SessionView }, { description: 'The session is live; its idle lifetime was renewed if due.' }),
        ...errorReplies(...AUTHENTICATED_ERRORS)
      }
    }
  }, async (request) => {
    const session = sessionOf(request)
    return { user: session.user, session: view(session) }
  })

  fastify.delete('/session', {
    preHandler: authenticateToEnd,
    schema: {
      summary: 'Log out this device',
      tags: ['session'],
      response: { 204: Type.Null({ description: 'Logged out: the skey is refused from now on, on every instance.' }), ...errorReplies(...AUTHENTICATED_ERRORS) }
    }
  }, async (request, reply) => {
    const session = sessionOf(request)
    await sessions.revoke({ userId: session.user.id, sessionId: session.id }, { reason: 'logout', request })
    return reply.code(204).send(null)
  })

  fastify.get('/sessions', {
    preHandler: authenticate,
    schema: {
      summary: 'This user\'s live sessions (devices), newest first',
      tags: ['session'],
      response: {
        200: Type.Object({ sessions: Type.Array(SessionView) }, { description: 'The live sessions; `current` marks this one.' }),
        ...errorReplies(...AUTHENTICATED_ERRORS)
      }
    }
  }, async (request) => {
    const current = sessionOf(request)
    const live = await sessions.list(current.user.id)
    return { sessions: live.map((session) => view(session, session.id === current.id)) }
  })

  fastify.delete('/sessions', {
    preHandler: authenticateToEnd,
    schema: {
      summary: 'Log out every device of this user',
      tags: ['session'],
      response: {
        200: Type.Object({ revoked: Type.Integer() }, { description: 'How many sessions were logged out, this one included.' }),
        ...errorReplies(...AUTHENTICATED_ERRORS)
      }
    }
  }, async (request) => {
    const { user, id } = sessionOf(request)
    // This device's last: until the others' tombstones are durable, a retry after a 503 still authenticates.
    const revoked = await sessions.revoke({ userId: user.id }, { reason: 'logout-all', request, last: id })
    return { revoked: revoked.length }
  })

  fastify.delete('/sessions/:id', {
    preHandler: authenticateToEnd,
    schema: {
      summary: 'Log out one device of this user',
      tags: ['session'],
      params: Type.Object({ id: Type.String({ pattern: SESSION_ID_PATTERN.source }) }),
      response: {
        204: Type.Null({ description: 'That device is logged out.' }),
        ...errorReplies(...AUTHENTICATED_ERRORS, SessionNotFoundError, ...VALIDATION_ERRORS)
      }
    }
  }, async (request, reply) => {
    const revoked = await sessions.revoke({ userId: sessionOf(request).user.id, sessionId: request.params.id }, { reason: 'logout', request })
    if (revoked.length === 0) throw new SessionNotFoundError()
    return reply.code(204).send(null)
  })
}

export default sessionRoutes
