// The authenticate preHandler against a bare route, in one run on one machine:
//   npm run bench   (BENCH_SECONDS, BENCH_CONNECTIONS, REDIS_URL to adjust)
// Reports throughput as a ratio to the bare route, and Redis commands per request.
import autocannon from 'autocannon'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import miniprogramAuth from '../index.js'

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
const app = Fastify()
await app.register(miniprogramAuth, { redis, keyPrefix: `mpa-bench:${process.pid}:` })
app.get('/bare', async () => ({ user: { id: 'wechat:wx:o' } }))
app.get('/authenticated', { preHandler: app.authenticate }, async (request) => ({ user: request.user }))
const base = await app.listen({ port: 0, host: '127.0.0.1' })

const { skey } = await app.sessions.create({ provider: 'wechat', appId: 'wx', openId: 'o' }, { user: { id: 'wechat:wx:o' }, secrets: { sessionKey: 'k' } })

async function commandCounts (): Promise<Map<string, number>> {
  const info = await redis.info('commandstats')
  return new Map([...info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].map(([, name, calls]) => [name!, Number(calls)]))
}

async function load (path: string, headers: Record<string, string> = {}) {
  const result = await autocannon({ url: base + path, connections: CONNECTIONS, duration: DURATION_S, headers })
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${path}: ${result.non2xx} non-2xx, ${result.errors} errors`)
  return result
}

await load('/bare') // warm-up: JIT and connections
const bare = await load('/bare')
const before = await commandCounts()
const authenticated = await load('/authenticated', { 'x-skey': skey })
const after = await commandCounts()

const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0)
const writes = ['pexpire', 'hset', 'set', 'del', 'zadd', 'zrem'].reduce((sum, name) => sum + delta(name), 0)
const reads = delta('hgetall') + delta('pttl')
const requests = authenticated.requests.total

console.log(`bare route:          ${bare.requests.average.toFixed(0)} req/s, p99 ${bare.latency.p99} ms`)
console.log(`authenticated route: ${authenticated.requests.average.toFixed(0)} req/s, p99 ${authenticated.latency.p99} ms`)
console.log(`ratio:               ${(authenticated.requests.average / bare.requests.average).toFixed(2)}x the bare route`)
console.log(`Redis per request:   ${(reads / requests).toFixed(2)} read commands (one pipelined round trip), ${writes} writes in ${requests} requests`)
console.log(`(${CONNECTIONS} connections, ${DURATION_S} s each, Node ${process.version})`)

await app.sessions.revoke(skey)
await app.close()
redis.disconnect()
