// npm run bench:tracking: what Redis pays for client-side caching, per write,
// in the two tracking modes, with 2, 4 and 50 tracking clients (instances)
// at a fixed write rate, on a redis-server of the bench's own.
//   bcast: CLIENT TRACKING … BCAST PREFIX (what store/invalidations.ts uses
//     today): every write under the prefix goes to every instance.
//   default: CLIENT TRACKING without BCAST (Redis's default mode; OPTIN is
//     the same table, with CLIENT CACHING yes before each read to track):
//     Redis remembers which connection read which key and tells only those,
//     once per read. Measured with each key read by one instance (affinity)
//     and by every instance (no affinity, every cache holding every session).
// Each instance is two connections, as the library's: one reads (with
// tracking on, redirected), one subscribes to __redis__:invalidate (RESP2).
// Every write is a SET of a distinct key (a session record's size): in
// default mode a key's tracking is used up by its first invalidation.
// Knobs: BENCH_TRACKING_WRITES (per second, default 2000),
// BENCH_TRACKING_SECONDS (default 4), BENCH_TRACKING_CLIENTS (default 2,4,50).
import { loadavg } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { redisCpuUs, startBenchRedis } from './private-redis.js'

const WRITES_PER_S = Number(process.env.BENCH_TRACKING_WRITES ?? 2000)
const SECONDS = Number(process.env.BENCH_TRACKING_SECONDS ?? 4)
const CLIENTS = (process.env.BENCH_TRACKING_CLIENTS ?? '2,4,50').split(',').map(Number)
const TICK_MS = 10
const PREFIX = 'trk:s:'
const VALUE = 'x'.repeat(300)
const KEYS = WRITES_PER_S * SECONDS

type Mode = 'none' | 'bcast' | 'default, each key read by 1 instance' | 'default, each key read by every instance'
const MODES: Mode[] = ['none', 'bcast', 'default, each key read by 1 instance', 'default, each key read by every instance']

const redis = await startBenchRedis()
const admin = redis.client

interface Instance { reader: Redis, subscriber: Redis, messages: number, keys: number }

async function instance (mode: Mode): Promise<Instance> {
  // RESP2, as the library's own (ioredis does not surface RESP3 invalidation pushes).
  const subscriber = new Redis(redis.url, { protocol: 2 })
  const reader = new Redis(redis.url, { protocol: 2 })
  const self: Instance = { reader, subscriber, messages: 0, keys: 0 }
  if (mode === 'none') return self
  const id = await subscriber.client('ID')
  await subscriber.subscribe('__redis__:invalidate')
  // RESP2: the invalidated keys come as an array in a pub/sub message, which ioredis gives as messageBuffer.
  subscriber.on('messageBuffer', (_channel: Buffer, keys: Buffer[] | Buffer | null) => {
    self.messages++
    self.keys += Array.isArray(keys) ? keys.length : 1
  })
  await reader.client('TRACKING', 'ON', 'REDIRECT', String(id), ...(mode === 'bcast' ? ['BCAST', 'PREFIX', PREFIX] : []))
  return self
}

async function info (section: string, field: string): Promise<number> {
  return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(await admin.info(section))?.[1] ?? NaN)
}

interface Row { mode: Mode, clients: number, writes: number, cpuUsPerWrite: number, messages: number, keys: number, trackedItems: number, trackingBytes: number }

async function run (mode: Mode, clients: number): Promise<Row> {
  await admin.flushall()
  const instances = await Promise.all(Array.from({ length: clients }, () => instance(mode)))
  const writer = new Redis(redis.url)
  // The keys exist; the readers read theirs (in default mode, that is what Redis tracks).
  for (let from = 0; from < KEYS; from += 1000) {
    const batch = writer.pipeline()
    for (let i = from; i < Math.min(KEYS, from + 1000); i++) batch.set(PREFIX + i, VALUE)
    await batch.exec()
  }
  const memoryBefore = await info('memory', 'used_memory')
  if (mode.startsWith('default')) {
    for (const [n, { reader }] of instances.entries()) {
      for (let from = 0; from < KEYS; from += 1000) {
        const batch = reader.pipeline()
        for (let i = from; i < Math.min(KEYS, from + 1000); i++) {
          if (mode.endsWith('every instance') || i % clients === n) batch.get(PREFIX + i)
        }
        await batch.exec()
      }
    }
  }
  const trackedItems = await info('stats', 'tracking_total_items')
  const trackingBytes = await info('memory', 'used_memory') - memoryBefore
  await sleep(200)
  // BCAST reported the set-up's writes too: count from here.
  for (const x of instances) {
    x.messages = 0
    x.keys = 0
  }
  const cpuBefore = await redisCpuUs(admin)
  // The writes: WRITES_PER_S, a tick's share at a time, each its own SET.
  const perTick = Math.round(WRITES_PER_S * TICK_MS / 1000)
  const started = performance.now()
  let written = 0
  while (written < KEYS) {
    for (let i = 0; i < perTick && written < KEYS; i++) void writer.set(PREFIX + written++, VALUE)
    const due = started + (written / WRITES_PER_S) * 1000
    await sleep(Math.max(0, due - performance.now()))
  }
  await writer.ping()
  await Promise.all(instances.map(({ subscriber }) => subscriber.ping()))
  await sleep(200)
  const cpuUs = await redisCpuUs(admin) - cpuBefore
  const row: Row = {
    mode,
    clients,
    writes: written,
    cpuUsPerWrite: cpuUs / written,
    messages: instances.reduce((sum, x) => sum + x.messages, 0),
    keys: instances.reduce((sum, x) => sum + x.keys, 0),
    trackedItems,
    trackingBytes
  }
  writer.disconnect()
  for (const { reader, subscriber } of instances) {
    reader.disconnect()
    subscriber.disconnect()
  }
  return row
}

try {
  console.log(`Redis ${redis.version} (${redis.kind}); ${WRITES_PER_S} writes/s for ${SECONDS} s (${KEYS} distinct keys, SET of 300 B, ` +
    `${TICK_MS} ms ticks); load average ${loadavg().map((n) => n.toFixed(2)).join(', ')}\n`)
  const rows: Row[] = []
  for (const clients of CLIENTS) {
    for (const mode of MODES) {
      const row = await run(mode, clients)
      rows.push(row)
      console.error(`  ${clients} clients, ${mode}: ${row.cpuUsPerWrite.toFixed(1)} µs of Redis CPU per write`)
    }
  }
  console.log('| instances | tracking | Redis CPU µs / write | over no tracking | invalidation messages / write | keys delivered / write | tracked items | tracking table bytes |')
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|')
  for (const row of rows) {
    const none = rows.find((other) => other.clients === row.clients && other.mode === 'none')!
    console.log(`| ${row.clients} | ${row.mode} | ${row.cpuUsPerWrite.toFixed(1)} | ${row.mode === 'none' ? '–' : `+${(row.cpuUsPerWrite - none.cpuUsPerWrite).toFixed(1)}`} | ` +
      `${(row.messages / row.writes).toFixed(2)} | ${(row.keys / row.writes).toFixed(2)} | ${row.trackedItems.toLocaleString('en-US')} | ` +
      `${row.mode.startsWith('default') ? Math.round(row.trackingBytes).toLocaleString('en-US') : '–'} |`)
  }
  console.log(`\nload average at the end: ${loadavg().map((n) => n.toFixed(2)).join(', ')}`)
} finally {
  await redis.stop()
}
