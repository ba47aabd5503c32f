import type { Cluster, Redis } from 'ioredis'
import type { FastifyRequest } from 'fastify'
import { publishRevocation } from '../lib/diagnostics.js'
import { sessionIdOf } from '../lib/skey.js'
import type { SessionStoreOptions } from '../store/session-options.js'
import { SessionStore } from '../store/sessions.js'
import type { CreatedSession, CreateSessionOptions, Identity } from '../types.js'
import type { AppHooks, RevokeEvent, RevokeReason } from './hooks.js'

/**
 * `fastify.sessions`: the session store, whose revocations are reported (the
 * app's onRevoke, the revocation channel) once they are done. The store
 * itself only talks to Redis; it answers what it revoked, and this says so.
 * What the app calls is reported as 'admin', what the per-user cap evicts as
 * 'cap'; our logout routes call the `…As` methods with their own reason.
 */
export class ReportedSessionStore extends SessionStore {
  readonly #hooks: AppHooks

  constructor (redis: Redis | Cluster, options: SessionStoreOptions, hooks: AppHooks) {
    super(redis, options)
    this.#hooks = hooks
  }

  override async create (identity: Identity, options: CreateSessionOptions): Promise<CreatedSession> {
    const created = await super.create(identity, options)
    await this.#report({ reason: 'cap', sessionIds: created.evicted, userId: String(created.session.user.id) })
    return created
  }

  override async revoke (skey: string): Promise<boolean> {
    const revoked = await super.revoke(skey)
    if (revoked) await this.#report({ reason: 'admin', sessionIds: [sessionIdOf(skey)] })
    return revoked
  }

  override async revokeById (userId: string | number, id: string): Promise<boolean> {
    return this.revokeByIdAs('admin', userId, id)
  }

  override async revokeUser (userId: string | number): Promise<number> {
    return (await this.revokeUserSessionsAs('admin', userId)).length
  }

  override async revokeUserSessions (userId: string | number): Promise<string[]> {
    return this.revokeUserSessionsAs('admin', userId)
  }

  /** `revokeById`, reported with the reason and request of the route that called it. */
  async revokeByIdAs (reason: RevokeReason, userId: string | number, id: string, request?: FastifyRequest): Promise<boolean> {
    const revoked = await super.revokeById(userId, id)
    if (revoked) await this.#report({ reason, sessionIds: [id], userId: String(userId) }, request)
    return revoked
  }

  /** `revokeUserSessions`, reported with the reason and request of the route that called it. */
  async revokeUserSessionsAs (reason: RevokeReason, userId: string | number, request?: FastifyRequest): Promise<string[]> {
    const revoked = await super.revokeUserSessions(userId)
    await this.#report({ reason, sessionIds: revoked, userId: String(userId) }, request)
    return revoked
  }

  async #report (event: RevokeEvent, request?: FastifyRequest): Promise<void> {
    if (event.sessionIds.length === 0) return
    publishRevocation({ reason: event.reason, count: event.sessionIds.length })
    await this.#hooks.revoked(event, request)
  }
}
