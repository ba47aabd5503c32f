import type { Redis } from 'ioredis'
import { config, runPrefix } from './config.js'
import type { LoadOptions, LoadResult } from './load.js'
import { runWorker, Server } from './processes.js'
import { activityBetween, commandCounts, type RedisActivity } from './redis-stats.js'
import { SYSTEM_NAMES, type System } from './systems.js'

// Part 1: each system in turn, alone on the machine but for its load worker:
// start its server, log in `users` users, warm up, then measure GET /me with
// Redis's command counts read around the measured run.

export interface ThroughputRow {
  system: System
  load: LoadResult
  redis: RedisActivity
}

async function load (options: LoadOptions): Promise<LoadResult> {
  const result = await runWorker<LoadResult>('./load.ts', options)
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${options.url}/me: ${result.non2xx} non-2xx answers, ${result.errors} errors in ${result.total} requests`)
  }
  return result
}

export async function measureThroughput (redis: Redis, report: (row: ThroughputRow) => void): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = []
  for (const system of SYSTEM_NAMES) {
    const server = await Server.start({ system, redisUrl: config.redisUrl, keyPrefix: `${runPrefix}${system}:` })
    try {
      const requests = await server.meRequests(config.users, (i) => `user-${i}`)
      const options = { url: server.url, connections: config.connections, requests }
      if (config.warmupSeconds > 0) await load({ ...options, seconds: config.warmupSeconds })
      const before = await commandCounts(redis)
      const result = await load({ ...options, seconds: config.seconds })
      const after = await commandCounts(redis)
      const row = { system, load: result, redis: await activityBetween(redis, before, after) }
      rows.push(row)
      report(row)
    } finally {
      await server.stop()
    }
  }
  return rows
}
