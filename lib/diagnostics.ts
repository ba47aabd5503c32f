import diagnostics from 'node:diagnostics_channel'
import type { RevokeReason } from '../types.js'

// What the package tells APM agents, OpenTelemetry instrumentations and
// metrics code through node:diagnostics_channel (docs/observability.md). A
// payload never carries a secret: no skey, code, session_key or token. Each
// publisher checks `hasSubscribers` first, so nobody listening costs nothing
// but that check.

const loginChannel = diagnostics.channel('fastify-miniprogram-auth:login')
const revocationChannel = diagnostics.channel('fastify-miniprogram-auth:revocation')
const upstreamChannel = diagnostics.channel('fastify-miniprogram-auth:upstream')
const storeChannel = diagnostics.channel('fastify-miniprogram-auth:store')
// Spans, as ioredis and undici trace theirs: tracing:<name>:start, end,
// asyncStart, asyncEnd and error, around each call to a platform and each
// piece of Redis work (its commands, under one deadline).
const upstreamTracing = diagnostics.tracingChannel<unknown, UpstreamSpan>('fastify-miniprogram-auth:upstream')
const storeTracing = diagnostics.tracingChannel<unknown, StoreSpan>('fastify-miniprogram-auth:store')

/** A login that ended: with a session (a replayed code counts, `replay: true`) or with an error. */
export interface LoginEvent {
  provider: string
  /** The configured appId of the login; absent when the request named an unknown one. */
  appId?: string
  outcome: 'success' | 'failure'
  /** A retried code answered from the first login's reply, without a second exchange. */
  replay: boolean
  /** A link (POST /<provider>/link), not a login: no session was created. */
  link?: true
  /** The error's code (MPA_*) on failure. */
  code?: string
  /** The reply's status on failure. */
  statusCode?: number
  durationMs: number
}

/** Sessions revoked by one call. */
export interface RevocationEvent {
  reason: RevokeReason
  count: number
}

/** One call to a platform (its retries included). */
export interface UpstreamEvent {
  provider: string
  /** The platform's name for it: 'sns/jscode2session', 'alipay.system.oauth.token'. */
  operation: string
  appId: string
  outcome: 'ok' | 'error' | 'timeout'
  /** The platform's error code (WeChat errcode, Alipay sub_code or code), when it answered one. */
  errcode?: string | number
  /** Our error's code (MPA_*) when the call failed. */
  code?: string
  durationMs: number
}

/** The context of an upstream span: which call (tracePromise adds `result` or `error`). */
export interface UpstreamSpan {
  provider: string
  operation: string
  appId: string
}

/** The context of a store span: what the Redis work is for ('session.read', 'code.claim'…). */
export interface StoreSpan {
  operation: string
}

/** Whether anyone listens to the store spans: checked by the caller, so an untraced read allocates nothing for them. */
export function storeTraced (): boolean {
  return storeTracing.hasSubscribers
}

/** Runs a piece of Redis work inside a store span. */
export function traceStore<T> (operation: string, run: () => Promise<T>): Promise<T> {
  return storeTracing.tracePromise(run, { operation })
}

/** The store gave up waiting for Redis: the request got a 503 MPA_STORE_UNAVAILABLE. */
export interface StoreEvent {
  event: 'timeout'
  timeoutMs: number
}

export function publishLogin (event: LoginEvent): void {
  if (loginChannel.hasSubscribers) loginChannel.publish(event)
}

export function publishRevocation (event: RevocationEvent): void {
  if (revocationChannel.hasSubscribers) revocationChannel.publish(event)
}

export function publishStoreTimeout (timeoutMs: number): void {
  if (storeChannel.hasSubscribers) storeChannel.publish({ event: 'timeout', timeoutMs } satisfies StoreEvent)
}

const kErrcode = Symbol('fastify-miniprogram-auth.errcode')

/** Marks an error with the platform's error code for the upstream event; not enumerable, so never in a reply. */
export function withErrcode<E extends object> (error: E, errcode: string | number | undefined): E {
  if (errcode !== undefined && errcode !== '') Object.defineProperty(error, kErrcode, { value: errcode })
  return error
}

/**
 * Runs one call to a platform and publishes how it went. `errcodeOf` reads
 * the platform's error code from a reply that came back (WeChat answers its
 * errors with HTTP 200); a thrown error reports our code, and the platform's
 * when `withErrcode` marked it.
 */
export async function observeUpstream<T> (
  call: { provider: string, operation: string, appId: string },
  run: () => Promise<T>,
  errcodeOf: (result: T) => string | number | undefined
): Promise<T> {
  if (upstreamTracing.hasSubscribers) return upstreamTracing.tracePromise(() => observed(call, run, errcodeOf), { ...call })
  return observed(call, run, errcodeOf)
}

async function observed<T> (
  call: { provider: string, operation: string, appId: string },
  run: () => Promise<T>,
  errcodeOf: (result: T) => string | number | undefined
): Promise<T> {
  if (!upstreamChannel.hasSubscribers) return run()
  const started = performance.now()
  const publish = (outcome: UpstreamEvent['outcome'], errcode?: string | number, code?: string) => {
    const event: UpstreamEvent = { ...call, outcome, durationMs: performance.now() - started }
    if (errcode !== undefined) event.errcode = errcode
    if (code !== undefined) event.code = code
    upstreamChannel.publish(event)
  }
  try {
    const result = await run()
    const errcode = errcodeOf(result)
    publish(errcode === undefined ? 'ok' : 'error', errcode)
    return result
  } catch (err) {
    const { code, [kErrcode]: errcode } = err as { code?: unknown, [kErrcode]?: string | number }
    const ours = typeof code === 'string' ? code : undefined
    publish(ours === 'MPA_UPSTREAM_TIMEOUT' ? 'timeout' : 'error', errcode, ours)
    throw err
  }
}
