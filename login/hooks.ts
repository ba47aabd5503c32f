import type { FastifyRequest } from 'fastify'
import { publishRevocation } from '../lib/diagnostics.js'
import type { Identity, RevokeEvent, Session } from '../types.js'

/** After a login created its session (not for a retried code answered again): an audit trail, a welcome. */
export type OnLogin = (identity: Identity, session: Session, request: FastifyRequest) => void | Promise<void>

/** After sessions were revoked; `request` is the one of our route that revoked them (logout, logout-all). */
export type OnRevoke = (event: RevokeEvent, request?: FastifyRequest) => void | Promise<void>

/** Where a hook's failure is told: the app's logger, or a script's own. */
export interface HookLog {
  error: (details: object, message: string) => void
}

/**
 * The app's hooks, each awaited and isolated: a hook that throws is logged
 * and changes nothing else (the login or the logout stands, the reply is the
 * same). The log line names the hook and carries the hook's error, never the
 * session or the identity.
 */
export class AppHooks {
  readonly #onLogin?: OnLogin
  readonly #onRevoke?: OnRevoke

  constructor (private readonly log: HookLog, { onLogin, onRevoke }: { onLogin?: OnLogin, onRevoke?: OnRevoke }) {
    if (onLogin !== undefined && typeof onLogin !== 'function') throw new TypeError('onLogin must be a function (identity, session, request) => void')
    if (onRevoke !== undefined && typeof onRevoke !== 'function') throw new TypeError('onRevoke must be a function ({ reason, sessionIds, userId }, request) => void')
    this.#onLogin = onLogin
    this.#onRevoke = onRevoke
  }

  async login (identity: Identity, session: Session, request: FastifyRequest): Promise<void> {
    const hook = this.#onLogin
    if (hook) await this.#isolated('onLogin', request.log, () => hook(identity, session, request))
  }

  /** Sessions ended: the revocation channel, then onRevoke. */
  async revoked (event: RevokeEvent, request?: FastifyRequest): Promise<void> {
    publishRevocation({ reason: event.reason, count: event.sessionIds.length })
    const hook = this.#onRevoke
    if (hook) await this.#isolated('onRevoke', request?.log ?? this.log, () => hook(event, request))
  }

  async #isolated (hook: string, log: HookLog, run: () => void | Promise<void>): Promise<void> {
    try {
      await run()
    } catch (err) {
      try {
        log.error({ hook, err }, `the app's ${hook} hook failed; the request went on without it`)
      } catch {
        // What it threw could not even be logged (a getter that throws): the login or logout still stands.
        log.error({ hook }, `the app's ${hook} hook failed with an error that cannot be logged; the request went on without it`)
      }
    }
  }
}
