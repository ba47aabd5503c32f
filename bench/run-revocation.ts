// npm run bench:revocation: how soon, and how surely, a session revoked on one
// instance fails on the others (bench/revocation.ts, bench/probe.ts), at 2
// and 4 instances, on a redis-server of the bench's own.
// Knobs: BENCH_REVOCATIONS (per kind and set-up, default 5000),
// BENCH_REVOCATION_INSTANCES (default 2,4), BENCH_REVOCATION_CONCURRENCY,
// BENCH_BUSY_MS, BENCH_BUSY_EVERY_MS, BENCH_BACKGROUND_RATE,
// BENCH_BACKGROUND_CONNECTIONS, BENCH_POLL_TIMEOUT_MS, BENCH_USERS, BENCH_REDIS_URL.
import { availableParallelism, loadavg } from 'node:os'
import { config, runPrefix } from './config.js'
import { startBenchRedis } from './private-redis.js'
import { killAll } from './processes.js'
import { revocationTable } from './report.js'
import { measureRevocation } from './revocation.js'
import { deleteKeys } from '../tools/redis-keys.js'

const redis = await startBenchRedis()
const load = () => loadavg().map((n) => n.toFixed(2)).join(', ')
process.on('SIGINT', () => {
  killAll()
  void redis.stop().finally(() => process.exit(130))
})
try {
  console.log(`Node ${process.version}, ${availableParallelism()} CPUs, Redis ${redis.version} (${redis.kind}), load average ${load()} at the start`)
  for (const instances of config.revocationInstances) {
    console.log(`\n## Revocation across ${instances} processes: ${config.revocations} per kind, ${config.revocationConcurrency} at once, ` +
      `each B under ${config.backgroundRate} req/s of background load (${config.backgroundConnections} connections)\n`)
    const started = Date.now()
    console.log(revocationTable(await measureRevocation(instances)))
    console.log(`- ${((Date.now() - started) / 1000).toFixed(0)} s; load average ${load()}`)
  }
} finally {
  killAll()
  await deleteKeys(redis.client, runPrefix)
  await redis.stop()
}
