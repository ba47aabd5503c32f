// npm run bench: the numbers the project reports, in one run on one machine:
// throughput of GET /me behind each system (bench/throughput.ts), on a
// redis-server of the bench's own (bench/private-redis.ts).
// The other modes: npm run bench:scale (many instances, hit rates),
// bench:logins, bench:revocation, bench:tracking, bench:memory, bench:profile.
// Knobs: BENCH_SECONDS, BENCH_WARMUP_SECONDS, BENCH_CONNECTIONS, BENCH_USERS,
// BENCH_ROUNDS, BENCH_SLICES, BENCH_SYSTEMS (a comma-separated subset), BENCH_REDIS_URL
// (a Redis to use instead of a private one).
import { availableParallelism, loadavg } from 'node:os'
import { config, runPrefix } from './config.js'
import { killAll } from './processes.js'
import { startBenchRedis, type BenchRedis } from './private-redis.js'
import { deleteKeys } from '../tools/redis-keys.js'
import { throughputTable } from './report.js'
import { measureThroughput } from './throughput.js'

const redis: BenchRedis = await startBenchRedis()

let cleaning: Promise<void> | undefined
function cleanUp (): Promise<void> {
  cleaning ??= (async () => {
    killAll()
    const deleted = await deleteKeys(redis.client, runPrefix)
    console.log(`\nclean-up: ${deleted} Redis keys under ${runPrefix} deleted`)
    await redis.stop()
  })()
  return cleaning
}

process.on('SIGINT', () => {
  void cleanUp().finally(() => process.exit(130))
})

const load = () => loadavg().map((n) => n.toFixed(2)).join(', ')
try {
  console.log(`Node ${process.version}, ${availableParallelism()} CPUs, Redis ${redis.version} (${redis.kind}, ${redis.url}), load average ${load()} at the start`)
  console.log(`${config.connections} connections, ${config.seconds} s measured after ${config.warmupSeconds} s of warm-up per system ` +
    `and round, in ${config.slices} slices the systems take in turn, ${config.rounds} rounds, ${config.users} users; every server and ` +
    'every load generator in a process of its own, one system at a time\n')

  console.log('## Throughput: GET /me → { user }\n')
  const rows = await measureThroughput(redis.client, (row) => {
    console.error(`  round ${row.round + 1}, ${row.system}: ${Math.round(row.load.requestsPerSecond)} req/s, ${row.cpuUsPerRequest.toFixed(1)} µs CPU/req`)
  })
  console.log(throughputTable(rows, config.seconds))
  console.log(`\nload average at the end: ${load()}`)
} finally {
  await cleanUp()
}
