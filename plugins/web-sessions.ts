import fp from 'fastify-plugin'
import fastifyCookie from '@fastify/cookie'
import { randomBytes } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'

// STAND-IN for the web helper's plugins/web-sessions.ts (branch wave3-web,
// "Cookie sessions:"), written against its announced interface until it is
// merged; replaced whole by it.

/** The browser's cookie session and its binding nonce. */
export interface WebSessions {
  /** Sets the HttpOnly Secure SameSite session cookie (its value is the skey). */
  start: (reply: FastifyReply, session: { skey: string, expiresAt: number }) => void
  clear: (reply: FastifyReply) => void
  /** The browser's binding id, from its nonce cookie, set when absent. Store only a hash of it. */
  browserOf: (request: FastifyRequest, reply: FastifyReply) => string
  /** The binding id the request carries, or null. */
  boundBrowserOf: (request: FastifyRequest) => string | null
}

export const kWebSessions = Symbol('mpa-web-sessions')

declare module 'fastify' {
  interface FastifyInstance {
    [kWebSessions]: WebSessions
  }
}

const SESSION_COOKIE = 'mpa_session'
const BROWSER_COOKIE = 'mpa_browser'
const BROWSER_PATTERN = /^[A-Za-z0-9_-]{22}$/

const webSessionsPlugin: FastifyPluginAsync = async (fastify) => {
  if (!fastify.hasReplyDecorator('setCookie')) await fastify.register(fastifyCookie)
  const base = { httpOnly: true, secure: true, sameSite: 'lax', path: '/' } as const
  const boundBrowserOf = (request: FastifyRequest): string | null => {
    const value = request.cookies[BROWSER_COOKIE]
    return value !== undefined && BROWSER_PATTERN.test(value) ? value : null
  }
  fastify.decorate(kWebSessions, {
    start: (reply, { skey, expiresAt }) => { reply.setCookie(SESSION_COOKIE, skey, { ...base, expires: new Date(expiresAt) }) },
    clear: (reply) => { reply.clearCookie(SESSION_COOKIE, base) },
    browserOf: (request, reply) => {
      const bound = boundBrowserOf(request)
      if (bound !== null) return bound
      const id = randomBytes(16).toString('base64url')
      reply.setCookie(BROWSER_COOKIE, id, { ...base, maxAge: 365 * 86_400 })
      return id
    },
    boundBrowserOf
  } satisfies WebSessions)
}

export default fp(webSessionsPlugin, { name: 'mpa-web-sessions', fastify: '5.x', dependencies: ['mpa-sessions'] })
