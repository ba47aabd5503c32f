import type { FastifyPluginAsync } from 'fastify'
import type { Users } from './users.js'

/**
 * The app's own route to unlink a platform: DELETE /account/identities/:provider,
 * behind authenticate. The user's live sessions of that platform are ended too,
 * so the account it unlinked no longer reaches this user.
 */
export const accountRoutes: FastifyPluginAsync<{ users: Users }> = async (fastify, { users }) => {
  fastify.delete<{ Params: { provider: string } }>('/account/identities/:provider', { preHandler: fastify.authenticate }, async (request, reply) => {
    const userId = String(request.user.id)
    const { provider } = request.params
    if (!users.unlink(userId, provider)) return reply.code(409).send({ statusCode: 409, code: 'APP_LAST_IDENTITY', error: 'Conflict', message: 'Not linked, or the last way in' })
    const sessions = await fastify.sessions.list(userId)
    await Promise.all(sessions.filter((session) => session.provider === provider).map((session) =>
      fastify.sessions.revoke({ userId, sessionId: session.id }, { reason: 'logout', request })))
    await fastify.sessions.updateUser(userId, { providers: [...users.get(userId)!.providers] })
    return reply.code(204).send()
  })
}
