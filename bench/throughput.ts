import type { Redis } from 'ioredis'
import { config, runPrefix } from './config.js'
import type { LoadOptions, LoadResult } from './load.js'
import { runWorker, Server } from './processes.js'
import { activityBetween, redisSnapshot, type RedisActivity } from './redis-stats.js'
import type { System } from './systems.js'

// Part 1: every system's server is started once and its `users` logged in;
// then `rounds` rounds, each measuring every system in turn (warm-up, then
// GET /me with Redis's command counts read around the measured run). On a
// small shared machine one run of one system can be off by half; rounds in
// a rotated order, compared within the round, and the median over rounds
// keep a passing disturbance from deciding a ratio.

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
    const rows: ThroughputRow[] = []
    for (let round = 0; round < Math.max(1, config.rounds); round++) {
      for (const system of roundOrder(round)) {
        const { server, requests } = servers.get(system)!
        const options = { url: server.url, connections: config.connections, requests }
        if (config.warmupSeconds > 0) await load({ ...options, seconds: config.warmupSeconds })
        const before = await redisSnapshot(redis)
        const from = await server.mark('from')
        const result = await load({ ...options, seconds: config.seconds })
        const to = await server.mark('to')
        const after = await redisSnapshot(redis)
        const cpuUs = (to.cpu.user + to.cpu.system) - (from.cpu.user + from.cpu.system)
        const row = { system, round, load: result, redis: await activityBetween(redis, before, after), cpuUsPerRequest: cpuUs / result.total }
        rows.push(row)
        report(row)
      }
    }
    return rows
  } finally {
    for (const { server } of servers.values()) await server.stop()
  }
}
