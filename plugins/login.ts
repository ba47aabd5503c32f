import fp from 'fastify-plugin'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { parseDuration } from '../lib/duration.js'
import { CodeInvalidError, LoginInProgressError } from '../lib/errors.js'
import { seal, unseal } from '../lib/seal.js'
import { sha256Base64url } from '../lib/skey.js'
import { defaultUserIdOf, type AuthUser, type Identity, type Provider, type SessionSecrets } from './sessions.js'

/** What a login route answers. */
export interface LoginResult {
  skey: string
  expiresAt: number
  user: AuthUser
}

/** Finds or creates the application's user for a platform identity. */
export type ResolveUser = (identity: Identity, request: FastifyRequest) => AuthUser | Promise<AuthUser>

export interface LoginPluginOptions {
  /** Default: `{ id: '<provider>:<appId>:<openId or userId>' }`. */
  resolveUser?: ResolveUser
  /**
   * How long a client may retry the same login code and get the same answer
   * (its first reply was lost). Seconds or a string. Default '60s'.
   */
  codeReplayWindow?: number | string
}

export interface MiniprogramLogin {
  /** resolveUser, then a new session holding the upstream secrets. */
  complete: (request: FastifyRequest, identity: Identity, secrets: SessionSecrets) => Promise<LoginResult>
  /**
   * Runs `exchange` (a login) at most once per login code across every
   * instance: a replay of the code within the window gets the first result
   * back while its session lives, and a concurrent one waits for it.
   */
  once: <T extends LoginResult>(provider: Provider, appId: string, code: string, exchange: () => Promise<T>) => Promise<T>
}

declare module 'fastify' {
  interface FastifyInstance {
    miniprogramLogin: MiniprogramLogin
  }
}

// An app that augments the user type passes its own resolveUser.
export const defaultResolveUser: ResolveUser = (identity) => ({ id: defaultUserIdOf(identity) }) as unknown as AuthUser

const PENDING = 'pending'
// The longest one exchange may hold a code before others may try it: above
// any upstream timeout plus resolveUser.
const PENDING_MS = 30_000
const POLL_MS = 50

const loginPlugin: FastifyPluginAsync<LoginPluginOptions> = async (fastify, options) => {
  const resolveUser = options.resolveUser ?? defaultResolveUser
  if (typeof resolveUser !== 'function') throw new TypeError('resolveUser must be a function (identity, request) => user')
  const replayWindowMs = parseDuration(options.codeReplayWindow ?? '60s', 'codeReplayWindow')
  const store = fastify.sessions
  const redis = store.redis

  async function complete (request: FastifyRequest, identity: Identity, secrets: SessionSecrets): Promise<LoginResult> {
    const user = await resolveUser(identity, request)
    const device = request.headers['user-agent']
    const { skey, expiresAt } = await store.create(identity, { user, secrets, ...(device ? { device } : {}) })
    return { skey, expiresAt, user }
  }

  async function once<T extends LoginResult> (provider: Provider, appId: string, code: string, exchange: () => Promise<T>): Promise<T> {
    const context = `${provider}:${appId}`
    // The key is a hash of the code; the result is sealed under the code itself.
    const key = store.key('code', sha256Base64url(`${context}:${code}`))
    const waitUntil = Date.now() + PENDING_MS
    for (;;) {
      // The claim dies at our own deadline unless we confirm it: a claim that
      // ioredis resends after an outage (when we had long answered 503) must
      // not block the client's retry.
      const claimed = await store.withDeadline(() => redis.set(key, PENDING, 'PXAT', Date.now() + store.storeTimeoutMs, 'NX'))
      if (claimed === 'OK') {
        try {
          await store.withDeadline(() => redis.pexpire(key, PENDING_MS))
          const result = await exchange()
          await store.withDeadline(() => redis.set(key, seal(JSON.stringify(result), code, context), 'PX', replayWindowMs, 'XX'))
          return result
        } catch (err) {
          // A failed login leaves no claim behind: a retry may try again.
          await store.withDeadline(() => redis.del(key)).catch(() => {})
          throw err
        }
      }
      const box = await store.withDeadline(() => redis.get(key))
      const replay = box !== null && box !== PENDING ? unseal(box, code, context) : null
      if (replay !== null) {
        const result = JSON.parse(replay) as T
        // Logged out since: the code is spent, and its skey would be refused.
        if (await store.get(result.skey) === null) throw new CodeInvalidError('already used, and the session it gave has ended')
        return result
      }
      if (Date.now() >= waitUntil) throw new LoginInProgressError()
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    }
  }

  fastify.decorate('miniprogramLogin', { complete, once })
}

export default fp(loginPlugin, {
  name: 'mpa-login',
  fastify: '5.x',
  dependencies: ['mpa-sessions']
})
