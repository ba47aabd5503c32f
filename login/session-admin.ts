import type { Cluster, Redis } from 'ioredis'
import { parseDuration } from '../lib/duration.js'
import type { SecretKey } from '../lib/secret-box.js'
import { AppHooks, type HookLog, type OnRevoke } from './hooks.js'
import type { RevokeReason, RevokeTarget, Session } from '../types.js'
import type { SessionOptions } from '../store/session-options.js'
import { SessionStore, type Ban, type BanOptions } from '../store/sessions.js'

/**
 * What the admin reads of the plugin's options: pass the app's own options
 * object, so the key prefix, the secret keys, the session options and
 * onRevoke cannot drift from the app's. Its other keys (the platforms…) are
 * ignored.
 */
export interface SessionAdminOptions {
  /** An ioredis Redis or Cluster on the app's Redis (an app on @fastify/redis passes its own here). */
  redis?: Redis | Cluster
  keyPrefix?: string
  secretKeys?: SecretKey[]
  session?: SessionOptions & { header?: string }
  /** Told of each revocation, as in the app. */
  onRevoke?: OnRevoke
  /** How long onRevoke is waited for: seconds or a string. Default '5s', as in the app. */
  hookTimeout?: number | string
}

/**
 * Sessions seen from outside the HTTP app: a script, a job, an admin service.
 * Its revocations are reported as the app's are: the options' onRevoke and the
 * revocation channel of this process. `close()` when done: it waits for the
 * onRevoke calls in flight, and closes the store's own connections.
 */
export class SessionAdmin {
  readonly #store: SessionStore
  readonly #hooks: AppHooks

  constructor (store: SessionStore, hooks: AppHooks) {
    this.#store = store
    this.#hooks = hooks
  }

  /** The user's live sessions, newest first. */
  list (userId: string | number): Promise<Session[]> {
    return this.#store.list(userId)
  }

  /** Revokes `{ userId, sessionId }` (one), `{ userId }` (all) or `{ skey }`; answers the revoked ids. */
  revoke (target: RevokeTarget, { reason = 'admin' }: { reason?: RevokeReason } = {}): Promise<string[]> {
    return this.#store.revoke(target, { reason })
  }

  /** Bans the user: every session ends (reported as 'ban'), logins answer 403 MPA_USER_BANNED until unban or `until`. */
  ban (userId: string | number, options?: BanOptions): Promise<string[]> {
    return this.#store.ban(userId, options)
  }

  /** Lifts a ban. True when there was one. */
  unban (userId: string | number): Promise<boolean> {
    return this.#store.unban(userId)
  }

  /** The user's ban, or null. */
  banned (userId: string | number): Promise<Ban | null> {
    return this.#store.banned(userId)
  }

  async close (): Promise<void> {
    this.#store.close()
    await this.#hooks.settled()
  }
}

/**
 * The app's sessions for a script, a job or an admin service, built from the
 * options object the app registers the plugin with. `log` is where a failing
 * or overrunning onRevoke is told (default: the console).
 */
export function createSessionAdmin (options: SessionAdminOptions, { log = consoleLog }: { log?: HookLog } = {}): SessionAdmin {
  const { redis, keyPrefix, secretKeys, session = {}, onRevoke, hookTimeout } = options
  if (!redis || typeof (redis as Redis).pipeline !== 'function') {
    throw new TypeError('redis: pass the app\'s ioredis Redis or Cluster as options.redis')
  }
  const { header, ...sessionOptions } = session
  const hooks = new AppHooks(log, { onRevoke }, parseDuration(hookTimeout ?? '5s', 'hookTimeout'))
  // The app's cache options, as the plugin reads them: a revocation is then
  // acknowledged as the app's are, once no instance can answer from a copy.
  // The admin never reads through a cache of its own (it opens none).
  const store = new SessionStore(redis, { ...sessionOptions, keyPrefix, secretKeys }, {
    cacheByDefault: true,
    report: (event) => { hooks.revoked(event) }
  })
  return new SessionAdmin(store, hooks)
}

const consoleLog: HookLog = {
  error: (details, message) => { console.error(message, details) },
  warn: (details, message) => { console.warn(message, details) }
}
