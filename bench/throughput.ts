import type { Redis } from 'ioredis'
import { config, runPrefix } from './config.js'
import type { LoadOptions, LoadResult } from './load.js'
import { median } from './median.js'
import { runWorker, Server } from './processes.js'
import { activityBetween, redisSnapshot, type RedisActivity } from './redis-stats.js'
import type { System } from './systems.js'

// Part 1: every system's server is started once and its `users` logged in;
// then `rounds` rounds, each measuring every system (after a warm-up, GET /me
// with Redis's command counts read around the measured run). The machine's
// speed drifts by a fifth and more within a minute; a round of ten systems
// one after another put a minute and a half between the bare route and the
// system compared with it. So a round's measured seconds are cut into
// `slices`, the systems taking turns in each (in an order rotated per round
// and per slice), and a row of the round adds its slices up: a drift reaches
// every system of the round alike. The median over rounds keeps a passing
// disturbance from deciding a ratio.

export interface ThroughputRow {
  system: System
  round: number
  load: LoadResult
  redis: RedisActivity
  /** The server's CPU time (user + system, all threads) per request of the measured run. */
  cpuUsPerRequest: number
}

async function load (options: LoadOptions): Promise<LoadResult> {
  const result = await runWorker<LoadResult>('./load.ts', options)
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${options.url}/me: ${result.non2xx} non-2xx answers, ${result.errors} errors in ${result.total} requests`)
  }
  return result
}

/** The systems in the order of round `round`: each round starts one further along. */
export function roundOrder (round: number, systems: System[] = config.systems): System[] {
  const shift = round % systems.length
  return [...systems.slice(shift), ...systems.slice(0, shift)]
}

export async function measureThroughput (redis: Redis, report: (row: ThroughputRow) => void): Promise<ThroughputRow[]> {
  const servers = new Map<System, { server: Server, requests: LoadOptions['requests'] }>()
  try {
    for (const system of config.systems) {
      const server = await Server.start({ system, redisUrl: config.redisUrl, keyPrefix: `${runPrefix}${system}:` })
      servers.set(system, { server, requests: await server.meRequests(config.users, (i) => `user-${i}`) })
    }
    const optionsOf = (system: System) => {
      const { server, requests } = servers.get(system)!
      return { url: server.url, connections: config.connections, requests }
    }
    const sliceSeconds = config.seconds / config.slices
    const rows: ThroughputRow[] = []
    for (let round = 0; round < Math.max(1, config.rounds); round++) {
      if (config.warmupSeconds > 0) {
        for (const system of roundOrder(round)) await load({ ...optionsOf(system), seconds: config.warmupSeconds })
      }
      const slices = new Map<System, Slice[]>(config.systems.map((system) => [system, []]))
      for (let slice = 0; slice < config.slices; slice++) {
        for (const system of roundOrder(round + slice)) {
          const server = servers.get(system)!.server
          const before = await redisSnapshot(redis)
          const from = await server.mark('from')
          const result = await load({ ...optionsOf(system), seconds: sliceSeconds })
          const to = await server.mark('to')
          const after = await redisSnapshot(redis)
          slices.get(system)!.push({ load: result, redis: await activityBetween(redis, before, after), cpuUs: (to.cpu.user + to.cpu.system) - (from.cpu.user + from.cpu.system) })
        }
      }
      for (const system of roundOrder(round)) {
        const row = { system, round, ...addedUp(slices.get(system)!, config.seconds) }
        rows.push(row)
        report(row)
      }
    }
    return rows
  } finally {
    for (const { server } of servers.values()) await server.stop()
  }
}

interface Slice {
  load: LoadResult
  redis: RedisActivity
  cpuUs: number
}

/** A round's slices of one system as one measured run of `seconds`: counts added up, latencies the slices' median. */
function addedUp (slices: Slice[], seconds: number): Pick<ThroughputRow, 'load' | 'redis' | 'cpuUsPerRequest'> {
  const sum = (of: (slice: Slice) => number) => slices.reduce((total, slice) => total + of(slice), 0)
  const total = sum((slice) => slice.load.total)
  const calls = new Map<string, number>()
  for (const slice of slices) for (const [name, count] of slice.redis.calls) calls.set(name, (calls.get(name) ?? 0) + count)
  return {
    load: {
      requestsPerSecond: total / seconds,
      p50Ms: median(slices.map((slice) => slice.load.p50Ms)),
      p99Ms: median(slices.map((slice) => slice.load.p99Ms)),
      total,
      non2xx: sum((slice) => slice.load.non2xx),
      errors: sum((slice) => slice.load.errors),
      timeouts: sum((slice) => slice.load.timeouts)
    },
    redis: { calls, total: sum((slice) => slice.redis.total), writes: sum((slice) => slice.redis.writes), cpuUs: sum((slice) => slice.redis.cpuUs) },
    cpuUsPerRequest: sum((slice) => slice.cpuUs) / total
  }
}
