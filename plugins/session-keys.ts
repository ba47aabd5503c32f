import type { FastifyInstance } from 'fastify'
import { SessionKeyRecords } from '../store/session-keys.js'
import { kGateway } from './sessions.js'
import type { Provider } from '../types.js'

/**
 * The latest session_key of each openid on `provider` (its own Redis
 * records). It outlives every session of its openid: none lives longer
 * than maxAge.
 */
export function latestSessionKeys (fastify: FastifyInstance, provider: Provider): SessionKeyRecords {
  return new SessionKeyRecords(fastify[kGateway], provider, fastify.sessions.maxAgeMs)
}
