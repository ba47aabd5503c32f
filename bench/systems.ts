// The systems the bench compares. Every one serves the same route, GET /me
// answering { user }, behind its own way of knowing the user.

export const SYSTEMS = {
  bare: { label: 'bare route (no auth)', redis: false },
  cached: { label: 'this library, cache hit (session.cache { max: 10000 })', redis: true },
  'cached-cookie': { label: 'this library, cache hit, the skey in the session cookie (web)', redis: true },
  miss: { label: 'this library, cache on, every request a miss (session.cache { max: 1 })', redis: true },
  'miss-autopipelined': { label: 'this library, every request a miss, ioredis enableAutoPipelining', redis: true },
  uncached: { label: 'this library, cache off (session.cache false)', redis: true },
  'naive-get': { label: 'naive skey: one GET of a JSON session (ioredis)', redis: true },
  'naive-hash': { label: 'naive skey: HGETALL + PTTL pipeline (ioredis)', redis: true },
  jwt: { label: '@fastify/jwt verify (HS256, stateless)', redis: false },
  session: { label: '@fastify/session + connect-redis', redis: true }
} as const

export type System = keyof typeof SYSTEMS

export const SYSTEM_NAMES = Object.keys(SYSTEMS) as System[]

/** What the orchestrator hands a server process (as JSON, its one argument). */
export interface ServerOptions {
  system: System
  redisUrl: string
  /** Prefix of every Redis key the server writes. */
  keyPrefix: string
  /** session.maxPerUser of the library systems. */
  maxPerUser?: number
  /** The library systems run the compiled package (dist/, npm run build) instead of the TypeScript source. */
  fromDist?: boolean
  /** The library systems: session.cache { max } instead of the system's own (scale mode). */
  cacheMax?: number
  /** The library systems: session.cache { lease } (and a heartbeat no shorter), instead of the default 100 ms (scale mode). */
  cacheLease?: string
  /** Blocks the event loop `busyMs` out of every `busyEveryMs` (a CPU-heavy route of the app; the revocation probe's B). */
  busyMs?: number
  busyEveryMs?: number
  /** Also answers POST /bench/ban { name } (the revocation probe's A). */
  banRoute?: boolean
  /** Instances of the system in this process, each an app of its own on a port of its own (scale mode's simulated many). Default 1. */
  apps?: number
  /** The library systems: platform options (wechat, alipay…) for the login routes, with a login rate limit too high to be reached (bench:logins). */
  platforms?: Record<string, unknown>
  /** Counts sequential Redis round trips (writes to Redis after a reply came back), told with each mark; the cache's tracking connections left out. */
  countRoundTrips?: boolean
  /** Counts the library's Redis reads of sessions (its store tracing channel's 'session.read' spans: one per cache miss), told with each mark. */
  countReads?: boolean
}

/** Messages a child process sends its parent over IPC. */
export type ChildMessage =
  /** `urls`: every app's, when the process runs several (url is the first). */
  | { type: 'ready', url: string, urls: string[] }
  /** `us`: process.hrtime in µs, the clock of a CPU profile; `cpu`: process.cpuUsage() then; `reads`: session reads so far (countReads); `roundTrips`: Redis round trips so far (countRoundTrips). */
  | { type: 'mark', name: string, us: number, cpu: { user: number, system: number }, reads: number, roundTrips: number, gcMs: { young: number, old: number } }
  | { type: 'result', result: unknown }

/** The one user every system answers with; `name` makes it one of many. */
export function userOf (name: string): { id: string } {
  // The id the library's default resolveUser gives a WeChat identity, so its
  // session record holds no user JSON (the common case).
  return { id: `wechat:wxbench:${name}` }
}
