// The revocation probe, a process of its own:
//   node --import tsx bench/probe.ts '{"a":…,"bs":[…],"count":5000,"concurrency":32,"maxPerUser":3,"pollTimeoutMs":2000}'
// For each kind, `count` times (`concurrency` at once, each on a user of its
// own): a new session (A's /bench/login), served once by every B, revoked
// through A; from the moment A's revoking answer arrives, GET /me on each B
// with that skey, again and again, until that B answers 401.
// Sends { type: 'result', result: ProbeResult } over IPC.
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { benchArgument } from './argument.js'

export const KINDS = ['logout', 'logout everywhere', 'cap eviction', 'ban'] as const
export type Kind = typeof KINDS[number]

export interface ProbeOptions {
  /** Base URLs of the servers (one Redis, one keyPrefix): A revokes, every B is watched. */
  a: string
  bs: string[]
  count: number
  /** Revocations under way at once (each its own user). */
  concurrency: number
  /** session.maxPerUser of the servers: the cap eviction fills it, then logs in once more. */
  maxPerUser: number
  pollTimeoutMs: number
}

export interface KindResult {
  kind: Kind
  /** Per revocation and B: A's revoking answer → that B's first 401, in ms (for a timeout: the time given up after, a lower bound). */
  visibleMs: number[]
  /** Per revocation: A's revoking call, sent → answered (the acknowledgement's price: lease + WAIT). */
  acknowledgeMs: number[]
  /** Per revocation and B: B's round trip for the GET /me before it (the resolution of the measure above). */
  roundTripMs: number[]
  /** GET /me answered 200 by a B although sent after A's revoking answer had arrived. */
  staleSuccesses: number
  /** Revocations some B served at least once after A's answer. */
  staleRevocations: number
  timeouts: number
  /** GET /me sent to the Bs in all, after the revocations. */
  polls: number
}

export type ProbeResult = KindResult[]

type Headers = Record<string, string>

const options = benchArgument<ProbeOptions>()
const pool = (url: string) => new Pool(url, { connections: Math.max(1, options.concurrency) })
const a = pool(options.a)
const bs = options.bs.map(pool)

/** One request; resolves when the answer's head arrives (the time is taken then), with its body read. */
async function call (client: Pool, method: 'GET' | 'POST' | 'DELETE', path: string, headers: Headers, body?: object) {
  const response = await client.request({
    method,
    path,
    headers: body ? { ...headers, 'content-type': 'application/json' } : headers,
    body: body ? JSON.stringify(body) : null
  })
  const arrivedAt = performance.now()
  const text = await response.body.text()
  return { status: response.statusCode, arrivedAt, text }
}

async function expect (status: number, answer: Promise<{ status: number, arrivedAt: number, text: string }>, what: string) {
  const got = await answer
  if (got.status !== status) throw new Error(`${what}: expected ${status}, got ${got.status} ${got.text}`)
  return got
}

/** A new session of user `name`, created on A the way a login creates one (cap included). */
async function login (name: string) {
  const answer = await expect(200, call(a, 'POST', '/bench/login', {}, { name }), 'POST A /bench/login')
  return { headers: (JSON.parse(answer.text) as { headers: Headers }).headers, arrivedAt: answer.arrivedAt }
}

/** Sets up one revocation of `kind`: the session to watch, and the call to A that revokes it (resolving when its answer arrives). */
async function prepare (kind: Kind, name: string): Promise<{ target: Headers, revoke: () => Promise<number> }> {
  const { headers: target } = await login(name)
  switch (kind) {
    case 'logout':
      return { target, revoke: async () => (await expect(204, call(a, 'DELETE', '/auth/session', target), 'DELETE A /auth/session')).arrivedAt }
    case 'logout everywhere':
      return { target, revoke: async () => (await expect(200, call(a, 'DELETE', '/auth/sessions', target), 'DELETE A /auth/sessions')).arrivedAt }
    case 'cap eviction':
      // The target is the oldest of maxPerUser sessions; one login more evicts it.
      // The index orders sessions by creation time in ms, and sessions of one
      // millisecond by id: the others are created a millisecond later at least,
      // so that the target is the oldest without a tie.
      await sleep(2)
      for (let i = 1; i < options.maxPerUser; i++) await login(name)
      return { target, revoke: async () => (await login(name)).arrivedAt }
    case 'ban':
      return { target, revoke: async () => (await expect(200, call(a, 'POST', '/bench/ban', {}, { name }), 'POST A /bench/ban')).arrivedAt }
  }
}

/** Polls one B from A's answer on, until its 401. */
async function watch (b: Pool, target: Headers, revokedAt: number, result: KindResult): Promise<number> {
  let stale = 0
  for (;;) {
    // Every poll leaves after A's answer arrived: a 200 here is a stale success.
    const answer = await call(b, 'GET', '/me', target)
    result.polls++
    if (answer.status === 401) {
      result.visibleMs.push(answer.arrivedAt - revokedAt)
      break
    }
    if (answer.status !== 200) throw new Error(`GET B /me after the revocation: ${answer.status} ${answer.text}`)
    stale++
    if (answer.arrivedAt - revokedAt > options.pollTimeoutMs) {
      result.visibleMs.push(answer.arrivedAt - revokedAt)
      result.timeouts++
      break
    }
  }
  return stale
}

async function trial (kind: Kind, i: number, result: KindResult): Promise<void> {
  const { target, revoke } = await prepare(kind, `${kind.replaceAll(' ', '-')}-${i}`)
  // Every B has served (and may hold) it.
  await Promise.all(bs.map(async (b) => {
    const sentAt = performance.now()
    const served = await expect(200, call(b, 'GET', '/me', target), 'GET B /me before the revocation')
    result.roundTripMs.push(served.arrivedAt - sentAt)
  }))
  const sentAt = performance.now()
  const revokedAt = await revoke()
  result.acknowledgeMs.push(revokedAt - sentAt)
  const stale = (await Promise.all(bs.map((b) => watch(b, target, revokedAt, result)))).reduce((x, y) => x + y, 0)
  result.staleSuccesses += stale
  if (stale > 0) result.staleRevocations++
}

async function measure (kind: Kind): Promise<KindResult> {
  const result: KindResult = { kind, visibleMs: [], acknowledgeMs: [], roundTripMs: [], staleSuccesses: 0, staleRevocations: 0, timeouts: 0, polls: 0 }
  let next = 0
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, async () => {
    while (next < options.count) await trial(kind, next++, result)
  }))
  return result
}

const results: ProbeResult = []
for (const kind of KINDS) {
  const started = performance.now()
  results.push(await measure(kind))
  console.error(`  ${kind}: ${options.count} revocations in ${((performance.now() - started) / 1000).toFixed(1)} s`)
}
await Promise.all([a.close(), ...bs.map((b) => b.close())])
process.send?.({ type: 'result', result: results }, () => process.exit(0))
