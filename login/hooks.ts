import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import { publishRevocation } from '../lib/diagnostics.js'
import type { Identity, RevokeEvent, Session } from '../types.js'

/** After a login created its session (not for a retried code answered again): an audit trail, a welcome. */
export type OnLogin = (identity: Identity, session: Session, request: FastifyRequest) => void | Promise<void>

/** After sessions were revoked; `request` is the one of our route that revoked them (logout, logout-all). */
export type OnRevoke = (event: RevokeEvent, request?: FastifyRequest) => void | Promise<void>

/**
 * The app's hooks. Each runs after the work it reports is done and
 * acknowledged, beside the reply, never before it: no hook holds a login's
 * code claim, a reply or a socket open. Each is isolated (one that throws is
 * logged and changes nothing) and bounded: one still running after
 * `timeoutMs` is logged and no longer waited for (it runs on, unwatched).
 * `settled()` waits for those in flight, for a clean close. The log line
 * names the hook and carries its error, never the session or the identity.
 */
export class AppHooks {
  readonly #onLogin?: OnLogin
  readonly #onRevoke?: OnRevoke
  readonly #running = new Set<Promise<void>>()

  constructor (
    private readonly log: FastifyBaseLogger,
    { onLogin, onRevoke }: { onLogin?: OnLogin, onRevoke?: OnRevoke },
    private readonly timeoutMs: number
  ) {
    if (onLogin !== undefined && typeof onLogin !== 'function') throw new TypeError('onLogin must be a function (identity, session, request) => void')
    if (onRevoke !== undefined && typeof onRevoke !== 'function') throw new TypeError('onRevoke must be a function ({ reason, sessionIds, userId }, request) => void')
    this.#onLogin = onLogin
    this.#onRevoke = onRevoke
  }

  login (identity: Identity, session: Session, request: FastifyRequest): void {
    const hook = this.#onLogin
    if (hook) this.#start('onLogin', request.log, () => hook(identity, session, request))
  }

  /** Sessions ended: the revocation channel at once, then onRevoke. */
  revoked (event: RevokeEvent, request?: FastifyRequest): void {
    publishRevocation({ reason: event.reason, count: event.sessionIds.length })
    const hook = this.#onRevoke
    if (hook) this.#start('onRevoke', request?.log ?? this.log, () => hook(event, request))
  }

  /** Resolves once every hook in flight has settled or timed out. */
  async settled (): Promise<void> {
    await Promise.all([...this.#running])
  }

  #start (hook: string, log: FastifyBaseLogger, run: () => void | Promise<void>): void {
    const running = this.#bounded(hook, log, run).finally(() => this.#running.delete(running))
    this.#running.add(running)
  }

  async #bounded (hook: string, log: FastifyBaseLogger, run: () => void | Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), this.timeoutMs).unref() })
    try {
      // Started in a later tick: a hook that blocks synchronously still lets the reply go first.
      const done = new Promise<void>((resolve) => setImmediate(resolve)).then(run)
      if (await Promise.race([done, timedOut]) === 'timeout') {
        log.warn({ hook, timeoutMs: this.timeoutMs }, `the app's ${hook} hook did not settle within ${this.timeoutMs} ms; no longer waited for`)
        done.catch(() => {}) // its late failure has nobody left to tell
      }
    } catch (err) {
      try {
        log.error({ hook, err }, `the app's ${hook} hook failed; the request went on without it`)
      } catch {
        // What it threw could not even be logged (a getter that throws): the login or logout still stands.
        log.error({ hook }, `the app's ${hook} hook failed with an error that cannot be logged; the request went on without it`)
      }
    } finally {
      clearTimeout(timer)
    }
  }
}
