// npm run bench:scale: many instances of one app behind a client-side spread
// (bench/spread-load.ts), thousands of users picked at random, each instance's
// session cache smaller than the users (as in production: a cache holds some
// seconds' worth of a large user base). Reports the cache hit rate (from the
// library's store tracing channel: one 'session.read' span per miss) and the
// throughput against the bare route behind the same spread, with the cache on
// and off, with and without skey-hash affinity, on a redis-server of its own.
// Set-ups: BENCH_SCALE_SETUPS, "processes×apps" each (default "4x1,5x10": 4
// processes; 50 instances simulated as 10 apps in each of 5 processes, for
// the hit rate: × bare there measures the machine more than the library).
// Knobs: BENCH_SCALE_USERS (4000), BENCH_SCALE_CACHE_MAX (default 1.25 × users
// per instance: every instance's share fits under affinity), BENCH_SCALE_LEASE
// (session.cache.lease, default 100ms: a lease pinger per instance), BENCH_SECONDS,
// BENCH_WARMUP_SECONDS, BENCH_ROUNDS, BENCH_CONNECTIONS, BENCH_REDIS_URL.
import { writeFile } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { config, runPrefix } from './config.js'
import { median } from './median.js'
import { startBenchRedis } from './private-redis.js'
import { Child, killAll, Server } from './processes.js'
import { activityBetween, redisSnapshot } from './redis-stats.js'
import type { SpreadOptions, SpreadResult } from './spread-load.js'
import type { System } from './systems.js'
import { deleteKeys } from '../tools/redis-keys.js'

const USERS = Number(process.env.BENCH_SCALE_USERS ?? 4000)
const LEASE = process.env.BENCH_SCALE_LEASE
const SETUPS = (process.env.BENCH_SCALE_SETUPS ?? '4x1,5x10').split(',').map((setup) => {
  const [processes, apps] = setup.split('x').map(Number) as [number, number]
  return { processes, apps: apps || 1 }
})
const SYSTEMS: System[] = ['bare', 'cached', 'uncached']
const load = () => loadavg().map((n) => n.toFixed(2)).join(', ')

const redis = await startBenchRedis()
process.on('SIGINT', () => {
  killAll()
  void redis.stop().finally(() => process.exit(130))
})

async function spread (options: SpreadOptions): Promise<SpreadResult> {
  const worker = new Child('./spread-load.ts', options)
  try {
    return (await worker.next('result')).result as SpreadResult
  } finally {
    await worker.stop()
  }
}

/** Logs `USERS` users in (through the first instance: the sessions are in Redis, every instance reads them), 16 at a time. */
async function logIn (server: Server): Promise<Array<Record<string, string>>> {
  const users: Array<Record<string, string>> = new Array(USERS)
  let next = 0
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < USERS) {
      const i = next++
      users[i] = await server.login(`user-${i}`)
    }
  }))
  return users
}

interface Row { system: System, affinity: boolean, round: number, result: SpreadResult, reads: number, cpuUs: number, redisCpuUs: number, redisCommands: number, redisPings: number, gcYoungUs: number, gcOldUs: number }

const pct = (n: number) => `${(100 * n).toFixed(1)}%`
try {
  console.log(`Node ${process.version}, ${availableParallelism()} CPUs, Redis ${redis.version} (${redis.kind}), load average ${load()} at the start`)
  for (const { processes, apps } of SETUPS) {
    const instances = processes * apps
    const cacheMax = Number(process.env.BENCH_SCALE_CACHE_MAX ?? Math.ceil(1.25 * USERS / instances))
    console.log(`\n## ${instances} instances (${processes} processes × ${apps} apps), ${USERS} users picked at random, ` +
      `session.cache { max: ${cacheMax}${LEASE ? `, lease: '${LEASE}'` : ''} } per instance, ${config.connections} connections, ${config.seconds} s after ${config.warmupSeconds} s of warm-up, ${config.rounds} rounds\n`)
    const rows: Row[] = []
    for (const system of SYSTEMS) {
      const keyPrefix = `${runPrefix}scale-${instances}-${system}:`
      const servers: Server[] = []
      try {
        for (let i = 0; i < processes; i++) {
          servers.push(await Server.start({ system, redisUrl: config.redisUrl, keyPrefix, cacheMax, ...(LEASE ? { cacheLease: LEASE } : {}), apps, countReads: system !== 'bare' }))
        }
        const usersFile = join(tmpdir(), `${runPrefix.replaceAll(':', '-')}scale-users.json`)
        await writeFile(usersFile, JSON.stringify(await logIn(servers[0]!)))
        const targets = servers.flatMap((server) => server.urls)
        for (let round = 0; round < Math.max(1, config.rounds); round++) {
          for (const affinity of round % 2 === 0 ? [false, true] : [true, false]) {
            const options = { targets, usersFile, connections: config.connections, affinity }
            // The warm-up fills the caches the way this spread does.
            if (config.warmupSeconds > 0) await spread({ ...options, seconds: config.warmupSeconds })
            const before = await Promise.all(servers.map((server) => server.mark('from')))
            const redisBefore = await redisSnapshot(redis.client)
            const result = await spread({ ...options, seconds: config.seconds })
            const redisAfter = await redisSnapshot(redis.client)
            const after = await Promise.all(servers.map((server) => server.mark('to')))
            if (result.non2xx > 0) throw new Error(`${system}: ${result.non2xx} non-2xx answers in ${result.total}`)
            const activity = await activityBetween(redis.client, redisBefore, redisAfter)
            const sum = (pick: (i: number) => number) => servers.reduce((total, _server, i) => total + pick(i), 0)
            const row: Row = {
              system,
              affinity,
              round,
              result,
              reads: sum((i) => after[i]!.reads - before[i]!.reads),
              cpuUs: sum((i) => (after[i]!.cpu.user + after[i]!.cpu.system) - (before[i]!.cpu.user + before[i]!.cpu.system)),
              redisCpuUs: activity.cpuUs,
              redisCommands: activity.total,
              redisPings: activity.calls.get('ping') ?? 0,
              gcYoungUs: 1000 * sum((i) => after[i]!.gcMs.young - before[i]!.gcMs.young),
              gcOldUs: 1000 * sum((i) => after[i]!.gcMs.old - before[i]!.gcMs.old)
            }
            rows.push(row)
            console.error(`  ${system}${affinity ? ', affinity' : ''}, round ${round + 1}: ${Math.round(result.requestsPerSecond)} req/s` +
              (system === 'bare' ? '' : `, hit rate ${pct(1 - row.reads / result.total)}`))
          }
        }
      } finally {
        await Promise.all(servers.map((server) => server.stop()))
      }
    }
    console.log('| system | spread | cache hit rate | × bare, same spread and round (median) | range | server CPU µs/req | of it GC pauses, young + old µs/req | Redis cmds/req | of them PINGs | Redis CPU µs/req |')
    console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    for (const system of SYSTEMS) {
      for (const affinity of [false, true]) {
        const own = rows.filter((row) => row.system === system && row.affinity === affinity)
        const ratios = own.map((row) => row.result.requestsPerSecond / rows.find((bare) => bare.system === 'bare' && bare.affinity === affinity && bare.round === row.round)!.result.requestsPerSecond)
        const requests = own.reduce((total, row) => total + row.result.total, 0)
        const reads = own.reduce((total, row) => total + row.reads, 0)
        // A figure summed over the rounds, per request; Redis's figures not for the bare route, which sends none.
        const perRequest = (pick: (row: Row) => number, digits: number) => (own.reduce((total, row) => total + pick(row), 0) / requests).toFixed(digits)
        const redisPerRequest = (pick: (row: Row) => number, digits: number) => system === 'bare' ? '–' : perRequest(pick, digits)
        console.log(`| ${system === 'bare' ? 'bare route' : system === 'cached' ? 'this library, cache on' : 'this library, cache off'} | ` +
          `${affinity ? 'skey-hash affinity' : 'round robin'} | ${system === 'cached' ? pct(1 - reads / requests) : system === 'uncached' ? '0% (off)' : '–'} | ` +
          `${median(ratios).toFixed(2)}× | ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}× | ` +
          `${perRequest((row) => row.cpuUs, 1)} | ${perRequest((row) => row.gcYoungUs, 1)} + ${perRequest((row) => row.gcOldUs, 1)} | ` +
          `${redisPerRequest((row) => row.redisCommands, 2)} | ${redisPerRequest((row) => row.redisPings, 2)} | ${redisPerRequest((row) => row.redisCpuUs, 1)} |`)
      }
    }
    console.log(`- hit rate: 1 − (the library's session reads from Redis ÷ requests), summed over the instances; PINGs: the cache's lease, every quarter lease per instance and node, whatever the load; load average ${load()}`)
  }
} finally {
  killAll()
  await deleteKeys(redis.client, runPrefix)
  await redis.stop()
}
