import { randomBytes } from 'node:crypto'
import { SYSTEM_NAMES, type System } from './systems.js'

// The knobs of `npm run bench`, read once from the environment.

function numberFrom (name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`${name} must be a non-negative number (got ${JSON.stringify(raw)})`)
  return value
}

function systemFrom (name: string, fallback: System): System {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  if (!(SYSTEM_NAMES as string[]).includes(raw)) throw new TypeError(`${name} must be one of ${SYSTEM_NAMES.join(', ')} (got ${JSON.stringify(raw)})`)
  return raw as System
}

function systemsFrom (name: string): System[] {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return SYSTEM_NAMES
  const names = raw.split(',').map((name) => name.trim())
  for (const system of names) {
    if (!(SYSTEM_NAMES as string[]).includes(system)) throw new TypeError(`${name}: ${JSON.stringify(system)} is none of ${SYSTEM_NAMES.join(', ')}`)
  }
  if (!names.includes('bare')) names.unshift('bare') // the ratios need it
  return names as System[]
}

export const config = {
  /** BENCH_REDIS_URL: a Redis to use instead of a private redis-server on a spare port (bench/private-redis.ts). */
  sharedRedisUrl: process.env.BENCH_REDIS_URL === '' ? undefined : process.env.BENCH_REDIS_URL,
  /** Set once the bench's Redis is up (startBenchRedis). */
  redisUrl: '',
  /** BENCH_SYSTEMS: a comma-separated subset of the systems (the bare route is always in). */
  systems: systemsFrom('BENCH_SYSTEMS'),
  /** Measured seconds per system and round. */
  seconds: numberFrom('BENCH_SECONDS', 8),
  /** Warm-up seconds per system and round (JIT, connections, Redis pools), not measured. */
  warmupSeconds: numberFrom('BENCH_WARMUP_SECONDS', 2),
  /** Rounds of part 1: every system is measured once per round; the tables give medians. */
  rounds: numberFrom('BENCH_ROUNDS', 3),
  /** Slices a round's measured seconds are cut into, the systems taking turns: the machine's drift within a round reaches them all alike. */
  slices: Math.max(1, Math.round(numberFrom('BENCH_SLICES', 4))),
  connections: numberFrom('BENCH_CONNECTIONS', 50),
  /** Users (sessions, tokens) the load cycles through, each connection in turn. */
  users: numberFrom('BENCH_USERS', 100),
  /** npm run bench:revocation: revocations measured per kind (logout, logout everywhere, cap eviction, ban) and set-up. */
  revocations: numberFrom('BENCH_REVOCATIONS', 5000),
  /** Revocations under way at once (each its own user). */
  revocationConcurrency: numberFrom('BENCH_REVOCATION_CONCURRENCY', 32),
  /** The set-ups measured: A and N-1 busy instances B, for each N. */
  revocationInstances: (process.env.BENCH_REVOCATION_INSTANCES ?? '2,4').split(',').map(Number).filter((n) => n >= 2),
  /** Each B's event loop is blocked busyMs out of every busyEveryMs (a CPU-heavy route). */
  busyMs: numberFrom('BENCH_BUSY_MS', 20),
  busyEveryMs: numberFrom('BENCH_BUSY_EVERY_MS', 40),
  /** Background load on each B during the revocation probe: requests per second in total, over a few connections. */
  backgroundRate: numberFrom('BENCH_BACKGROUND_RATE', 500),
  backgroundConnections: numberFrom('BENCH_BACKGROUND_CONNECTIONS', 8),
  /** How long one revocation may stay invisible on B before the probe gives up on it. */
  pollTimeoutMs: numberFrom('BENCH_POLL_TIMEOUT_MS', 2000),
  /** Measured seconds of the CPU profile (npm run bench:profile). */
  profileSeconds: numberFrom('BENCH_PROFILE_SECONDS', 10),
  /** The system npm run bench:profile profiles. */
  profileSystem: systemFrom('BENCH_PROFILE_SYSTEM', 'cached')
}

/** Every Redis key of this run starts with it; the run deletes them all at the end. */
export const runPrefix = `mpa-bench:${randomBytes(4).toString('hex')}:`
