import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { Redis, type RedisOptions } from 'ioredis'
import { deleteKeys } from '../../tools/redis-keys.js'
import { freePort, RedisProcess } from '../../tools/redis-server.js'

// Private servers (RedisProcess: start, pause, resume, stop) come from the
// module the demo uses too.
export { deleteKeys, freePort, RedisProcess }

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

// .ci/ioredis5 runs the store, cache and cluster tests again with ioredis 5
// in place of 6: they must not pass on the wrong one unnoticed.
const major = process.env.MPA_IOREDIS_MAJOR
const { version } = createRequire(import.meta.url)('ioredis/package.json') as { version: string }
if (major !== undefined && !version.startsWith(`${major}.`)) throw new Error(`MPA_IOREDIS_MAJOR is ${major}, but ioredis is ${version}`)

/** What owns a cleanup: a tap test (or the file's root `tap`). Its teardowns run last-registered first. */
export interface Teardown {
  teardown: (fn: () => unknown) => void
}

/** A client of the shared test Redis; with `t`, disconnected when `t` ends. */
export function sharedRedis (t?: Teardown): Redis {
  const redis = new Redis(REDIS_URL)
  t?.teardown(() => redis.disconnect())
  return redis
}

/** A key prefix no other test uses, so test files can run in parallel. */
export function uniquePrefix (name: string): string {
  return `mpa-test:${name}:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`
}

/**
 * A unique prefix whose keys are deleted when `t` ends. Take it before
 * building the apps that write under it: teardowns run last-registered
 * first, so the apps close before their keys go.
 */
function ownPrefix (t: Teardown, redis: Redis, name: string): string {
  const prefix = uniquePrefix(name)
  t.teardown(() => deleteKeys(redis, prefix))
  return prefix
}

/**
 * A client of the shared Redis and a prefix of its own: when `t` ends, every
 * key under the prefix is deleted, then the client disconnects.
 */
export function testRedis (t: Teardown, name: string): { redis: Redis, prefix: string } {
  const redis = sharedRedis(t)
  return { redis, prefix: ownPrefix(t, redis, name) }
}

/**
 * A private redis-server (no persistence) and a client on it, for a test
 * that freezes or kills its Redis. When `t` ends the server goes on if it was
 * frozen, the client disconnects and the server stops, taking every key with
 * it: nothing to clean. Apps built on it afterwards close first.
 */
export async function privateRedis (t: Teardown, options: RedisOptions = {}, serverArgs: string[] = []): Promise<{ server: RedisProcess, redis: Redis }> {
  const server = new RedisProcess(await freePort(), serverArgs)
  await server.start()
  const redis = new Redis({ port: server.port, ...options })
  redis.on('error', () => {}) // the tests stop and freeze this server on purpose
  t.teardown(async () => {
    server.resume()
    redis.disconnect()
    await server.stop()
  })
  return { server, redis }
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
