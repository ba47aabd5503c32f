// npm run bench: the numbers the project reports, in one run on one machine.
//   1. throughput of GET /me behind each system (bench/throughput.ts)
//   2. how soon a session revoked on one process fails on another (bench/revocation.ts)
// Knobs: BENCH_SECONDS, BENCH_WARMUP_SECONDS, BENCH_CONNECTIONS, BENCH_USERS,
// BENCH_ROUNDS, BENCH_REVOCATIONS (0 skips part 2), BENCH_BACKGROUND_RATE,
// BENCH_BACKGROUND_CONNECTIONS, BENCH_POLL_TIMEOUT_MS, REDIS_URL.
import { availableParallelism } from 'node:os'
import { Redis } from 'ioredis'
import { config, runPrefix } from './config.js'
import { killAll } from './processes.js'
import { deleteKeys } from '../tools/redis-keys.js'
import { revocationTable, throughputTable } from './report.js'
import { measureRevocation } from './revocation.js'
import { measureThroughput } from './throughput.js'

const redis = new Redis(config.redisUrl)
const redisVersion = /^redis_version:(\S+)/m.exec(await redis.info('server'))?.[1] ?? '?'

let cleaning: Promise<void> | undefined
function cleanUp (): Promise<void> {
  cleaning ??= (async () => {
    killAll()
    const deleted = await deleteKeys(redis, runPrefix)
    console.log(`\nclean-up: ${deleted} Redis keys under ${runPrefix} deleted`)
    await redis.quit()
  })()
  return cleaning
}

process.on('SIGINT', () => {
  void cleanUp().finally(() => process.exit(130))
})

try {
  console.log(`Node ${process.version}, ${availableParallelism()} CPUs, Redis ${redisVersion} at ${config.redisUrl}`)
  console.log(`${config.connections} connections, ${config.seconds} s measured after ${config.warmupSeconds} s of warm-up per system ` +
    `and round, ${config.rounds} rounds, ${config.users} users; every server and every load generator in a process of its own, ` +
    'one system at a time\n')

  console.log('## Throughput: GET /me → { user }\n')
  const rows = await measureThroughput(redis, (row) => {
    console.error(`  round ${row.round + 1}, ${row.system}: ${Math.round(row.load.requestsPerSecond)} req/s`)
  })
  console.log(throughputTable(rows, config.seconds))

  if (config.revocations > 0) {
    console.log(`\n## Revocation across processes: ${config.revocations} per kind, ` +
      `B under ${config.backgroundRate} req/s of background load (${config.backgroundConnections} connections)\n`)
    console.log(revocationTable(await measureRevocation()))
  }
} finally {
  await cleanUp()
}
