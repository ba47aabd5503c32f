import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { SessionNotFoundError } from '../errors.js'
import { routeScope } from './scope.js'
import { SessionView, User, errorReplies } from './schemas.js'
import { SESSION_ID_PATTERN } from '../lib/skey.js'
import type { Session } from '../types.js'

// 401: no valid skey; 503: Redis unavailable. Every route here needs a session.
const AUTH_ERRORS = [401, 503]

function view (session: Session, current?: boolean) {
  return current === undefined ? session : { ...session, current }
}

/** GET/DELETE /session and /sessions: the current session and this user's devices. */
const sessionRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  routeScope(fastify, 'session routes', ['sessions', 'authenticate'])
  const sessions = fastify.sessions
  fastify.addHook('preHandler', fastify.authenticate)

  fastify.get('/session', {
    schema: {
      summary: 'The current user and session (a server-side checkSession)',
      tags: ['session'],
      response: { 200: Type.Object({ user: User, session: SessionView }), ...errorReplies(...AUTH_ERRORS) }
    }
  }, async (request) => ({ user: request.user, session: view(request.session) }))

  fastify.delete('/session', {
    schema: {
      summary: 'Log out this device',
      tags: ['session'],
      response: { 204: Type.Null(), ...errorReplies(...AUTH_ERRORS) }
    }
  }, async (request, reply) => {
    await sessions.revokeById(request.user.id, request.session.id)
    return reply.code(204).send(null)
  })

  fastify.get('/sessions', {
    schema: {
      summary: 'This user\'s live sessions (devices), newest first',
      tags: ['session'],
      response: { 200: Type.Object({ sessions: Type.Array(SessionView) }), ...errorReplies(...AUTH_ERRORS) }
    }
  }, async (request) => {
    const live = await sessions.list(request.user.id)
    return { sessions: live.map((session) => view(session, session.id === request.session.id)) }
  })

  fastify.delete('/sessions', {
    schema: {
      summary: 'Log out every device of this user',
      tags: ['session'],
      response: { 200: Type.Object({ revoked: Type.Integer() }), ...errorReplies(...AUTH_ERRORS) }
    }
  }, async (request) => ({ revoked: await sessions.revokeUser(request.user.id) }))

  fastify.delete('/sessions/:id', {
    schema: {
      summary: 'Log out one device of this user',
      tags: ['session'],
      params: Type.Object({ id: Type.String({ pattern: SESSION_ID_PATTERN.source }) }),
      response: { 204: Type.Null(), ...errorReplies(...AUTH_ERRORS, 400, 404) }
    }
  }, async (request, reply) => {
    if (!await sessions.revokeById(request.user.id, request.params.id)) throw new SessionNotFoundError()
    return reply.code(204).send(null)
  })
}

export default sessionRoutes
