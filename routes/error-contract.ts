import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { STATUS_CODES } from 'node:http'
import { InternalError, RateLimitedError, RequestRejectedError } from '../errors.js'
import { isOurError } from '../lib/our-errors.js'

/**
 * Every error reply of our routes has a status, a stable `code` and a
 * message. Errors from elsewhere (a hook of the app, another plugin,
 * resolveUser) keep their status; a 4xx keeps its message; an unexpected
 * 5xx gets MPA_INTERNAL_ERROR and a generic message, its cause goes to the
 * log only.
 */
export function errorContract (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  try {
    return replyTo(error, request, reply)
  } catch (unreadable) {
    // Anything can be thrown, even an object whose getters throw: still our contract.
    reply.log.error({ req: request, err: unreadable }, 'an error that cannot be read reached our routes')
    return reply.code(500).send(asReply(new InternalError(), 500))
  }
}

function replyTo (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = statusOf(error, reply)
  reply.code(status)
  if (status >= 500) {
    reply.log.error({ req: request, res: reply, err: error }, error?.message)
    if (isOurError(error)) return reply.send(error)
    return reply.send(asReply(new InternalError(), status))
  }
  reply.log.info({ res: reply, err: error }, error?.message)
  if (typeof error?.code === 'string' && error.code !== '') return reply.send(error)
  const message = typeof error?.message === 'string' && error.message !== '' ? error.message : STATUS_CODES[status] ?? 'Error'
  const known = status === 429 ? new RateLimitedError('a while') : new RequestRejectedError(message)
  return reply.send(asReply(Object.assign(known, { message }), status))
}

/** A status set on the reply before the error (a hook's reply.code(503)), else the error's, else 500. */
function statusOf (error: FastifyError, reply: FastifyReply): number {
  if (reply.statusCode >= 400 && reply.statusCode <= 599) return reply.statusCode
  const status = error?.statusCode ?? (error as { status?: number } | undefined)?.status
  return typeof status === 'number' && status >= 400 && status <= 599 ? status : 500
}

function asReply (error: FastifyError, status: number): { statusCode: number, code: string, error: string, message: string } {
  return { statusCode: status, code: error.code, error: STATUS_CODES[status] ?? 'Error', message: error.message }
}
