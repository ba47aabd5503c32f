import { createServer } from 'node:net'
import { Redis } from 'ioredis'

// Private servers (RedisProcess: start, pause, resume, stop) come from the
// module the demo uses too.
export { freePort, RedisProcess } from '../../tools/redis-server.js'

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A client of the shared test Redis. */
export function sharedRedis (): Redis {
  return new Redis(REDIS_URL)
}

/** A key prefix no other test uses, so test files can run in parallel. */
export function uniquePrefix (name: string): string {
  return `mpa-test:${name}:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`
}

/** A free port whose cluster bus port (port + 10000) is free too. */
export async function freeClusterPort (): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 20000)
    if (await isFree(port) && await isFree(port + 10000)) return port
  }
}

async function isFree (port: number): Promise<boolean> {
  const server = createServer()
  return new Promise((resolve) => {
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}
