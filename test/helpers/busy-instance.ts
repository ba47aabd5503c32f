// Another instance of the app, in a process of its own, for the tests that
// probe one instance right after another acknowledged a revocation:
//   node --import ./tools/ts-loader/register.mjs test/helpers/busy-instance.ts '{"redisUrl":…,"keyPrefix":…,"busyMs":20,"everyMs":40}'
// Its event loop is blocked `busyMs` out of every `everyMs` (a CPU-heavy
// route of the app), its cache is on, and it prints its port once it listens.
import { Redis } from 'ioredis'
import { buildApp } from './app.js'

const { redisUrl, keyPrefix, busyMs, everyMs } = JSON.parse(process.argv[2] ?? '{}') as { redisUrl: string, keyPrefix: string, busyMs: number, everyMs: number }
const redis = new Redis(redisUrl)
const app = await buildApp(redis, { keyPrefix })
await app.listen({ port: 0, host: '127.0.0.1' })
const busy = setInterval(() => {
  const until = performance.now() + busyMs
  while (performance.now() < until) { /* what a CPU-heavy request does to the event loop */ }
}, everyMs)
process.stdout.write(`${(app.server.address() as { port: number }).port}\n`)
// Any message from the parent: stop.
process.once('message', () => {
  clearInterval(busy)
  void app.close().finally(() => {
    redis.disconnect()
    process.exit(0)
  })
})
