import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { STATUS_CODES } from 'node:http'
import { InternalError, RateLimitedError, RequestRejectedError } from '../errors.js'
import { isCounted, isOurError } from '../lib/our-errors.js'

/** The body of every error reply of our routes. */
export interface ErrorContractBody {
  statusCode: number
  code: string
  error: string
  message: string
}

/** The plugin's `errorReply` option: the body an error reply of ours answers instead of the contract (an app's envelope). */
export type ErrorReplyShaper = (error: ErrorContractBody, request: FastifyRequest) => unknown

/** The app's `errorReply`, set by the plugin at its root; internal, hence a symbol. */
export const kErrorReply = Symbol('fastify-miniprogram-auth.errorReply')

declare module 'fastify' {
  interface FastifyInstance {
    [kErrorReply]?: ErrorReplyShaper
  }
}

/**
 * Every error reply of our routes has a status, a stable `code` and a
 * message. Errors from elsewhere (a hook of the app, another plugin,
 * resolveUser) keep their status; a 4xx keeps its message; an unexpected
 * 5xx gets MPA_INTERNAL_ERROR and a generic message, its cause goes to the
 * log only. The body is sent as a body, never as an error: an error would go
 * on to the app's own error handler (which would answer in its own shape)
 * and to Fastify's default one (which would log it a second time).
 */
export function errorContract (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let body: ErrorContractBody
  try {
    const status = statusOf(error, reply.statusCode)
    // A 503 of the store's open circuit is counted in its own log lines: not one line per request.
    if (status >= 500 && isCounted(error)) reply.log.debug({ res: reply, err: error }, error?.message)
    else if (status >= 500) reply.log.error({ req: request, res: reply, err: error }, error?.message)
    else reply.log.info({ res: reply, err: error }, error?.message)
    body = bodyOf(error, status)
  } catch (unreadable) {
    // Anything can be thrown, even an object whose getters throw: still our contract.
    reply.log.error({ req: request, err: unreadable }, 'an error that cannot be read reached our routes')
    body = asReply(new InternalError(), 500)
  }
  // A string, so that no response schema of the route trims what the app's errorReply returns.
  return reply.code(body.statusCode).type('application/json; charset=utf-8').send(JSON.stringify(shaped(body, request)))
}

/**
 * The body our contract answers for an error, by its own status: for an app's
 * own error handler, guard or exception filter (NestJS) that answers errors
 * of `authenticate` the way our routes do.
 */
export function errorContractBody (error: unknown): ErrorContractBody {
  try {
    return bodyOf(error as FastifyError, statusOf(error as FastifyError))
  } catch {
    return asReply(new InternalError(), 500)
  }
}

function bodyOf (error: FastifyError, status: number): ErrorContractBody {
  if (status >= 500) return asReply(isOurError(error) ? error : new InternalError(), status)
  if (typeof error?.code === 'string' && error.code !== '') return asReply(error, status)
  const message = typeof error?.message === 'string' && error.message !== '' ? error.message : STATUS_CODES[status] ?? 'Error'
  const known = status === 429 ? new RateLimitedError('a while') : new RequestRejectedError(message)
  return asReply(Object.assign(known, { message }), status)
}

/** A status set on the reply before the error (a hook's reply.code(503)), else the error's, else 500. */
function statusOf (error: FastifyError, replyStatus?: number): number {
  if (replyStatus !== undefined && replyStatus >= 400 && replyStatus <= 599) return replyStatus
  const status = error?.statusCode ?? (error as { status?: number } | undefined)?.status
  return typeof status === 'number' && status >= 400 && status <= 599 ? status : 500
}

function asReply (error: FastifyError, status: number): ErrorContractBody {
  const message = typeof error.message === 'string' ? error.message : STATUS_CODES[status] ?? 'Error'
  return { statusCode: status, code: error.code, error: STATUS_CODES[status] ?? 'Error', message }
}

/** The app's errorReply applied; if it throws, our contract stands. */
function shaped (body: ErrorContractBody, request: FastifyRequest): unknown {
  const shape = request.server[kErrorReply]
  if (shape === undefined) return body
  try {
    return shape({ ...body }, request)
  } catch (err) {
    request.log.error({ err }, 'the errorReply option threw: the error was answered in the library\'s own shape')
    return body
  }
}
