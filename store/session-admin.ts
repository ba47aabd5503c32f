import type { Cluster, Redis } from 'ioredis'
import { AppHooks, type HookLog, type OnRevoke } from '../login/hooks.js'
import type { RevokeReason, RevokeTarget, Session } from '../types.js'
import type { SessionOptions } from './session-options.js'
import { SessionStore } from './sessions.js'

/**
 * What the admin reads of the plugin's options: pass the app's own options
 * object, so the key prefix, the session options and onRevoke cannot drift
 * from the app's. Its other keys (the platforms…) are ignored.
 */
export interface SessionAdminOptions {
  /** An ioredis Redis or Cluster on the app's Redis (an app on @fastify/redis passes its own here). */
  redis?: Redis | Cluster
  keyPrefix?: string
  session?: SessionOptions & { header?: string }
  /** Told of each revocation, as in the app. */
  onRevoke?: OnRevoke
}

/** Sessions seen from outside the HTTP app: a script, a job, an admin service. */
export class SessionAdmin {
  readonly #store: SessionStore

  constructor (store: SessionStore) {
    this.#store = store
  }

  /** The user's live sessions, newest first. */
  list (userId: string | number): Promise<Session[]> {
    return this.#store.list(userId)
  }

  /**
   * Revokes `{ userId, sessionId }` (one), `{ userId }` (all) or `{ skey }`;
   * answers the revoked ids. Reported as the app's revocations are: the
   * options' onRevoke and the revocation channel of this process.
   */
  revoke (target: RevokeTarget, { reason = 'admin' }: { reason?: RevokeReason } = {}): Promise<string[]> {
    return this.#store.revoke(target, { reason })
  }
}

/**
 * The app's sessions for a script, a job or an admin service, built from the
 * options object the app registers the plugin with. `log` is where a failing
 * onRevoke is told (default: the console).
 */
export function createSessionAdmin (options: SessionAdminOptions, { log = consoleLog }: { log?: HookLog } = {}): SessionAdmin {
  const { redis, keyPrefix, session = {}, onRevoke } = options
  if (!redis || typeof (redis as Redis).pipeline !== 'function') {
    throw new TypeError('redis: pass the app\'s ioredis Redis or Cluster as options.redis')
  }
  const { header, ...sessionOptions } = session
  const hooks = new AppHooks(log, { onRevoke })
  // No session cache: a script reads each session once, and Redis tells the apps' caches of what it revokes.
  const store = new SessionStore(redis, { ...sessionOptions, keyPrefix, cache: false }, {
    report: (event) => hooks.revoked(event)
  })
  return new SessionAdmin(store)
}

const consoleLog: HookLog = {
  error: (details, message) => { console.error(message, details) }
}
