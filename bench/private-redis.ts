import { Redis } from 'ioredis'
import { config } from './config.js'
import { freePort, RedisProcess } from '../tools/redis-server.js'

// Every bench mode runs on a redis-server of its own, on a spare port, so the
// Redis other work on the machine shares does not count in its commands and
// CPU (INFO commandstats and INFO cpu count every client of a server). With
// BENCH_REDIS_URL the bench uses that Redis instead (its figures then include
// whatever else runs there).

export interface BenchRedis {
  url: string
  /** A client of the bench's own, for INFO and clean-up. */
  client: Redis
  version: string
  /** 'private' when the bench started it. */
  kind: 'private' | 'shared'
  stop: () => Promise<void>
}

export async function startBenchRedis (): Promise<BenchRedis> {
  let server: RedisProcess | undefined
  if (config.sharedRedisUrl === undefined) {
    server = new RedisProcess(await freePort(), ['--maxmemory-policy', 'noeviction'])
    await server.start()
    config.redisUrl = server.url
  } else {
    config.redisUrl = config.sharedRedisUrl
  }
  const client = new Redis(config.redisUrl)
  const version = /^redis_version:(\S+)/m.exec(await client.info('server'))?.[1] ?? '?'
  return {
    url: config.redisUrl,
    client,
    version,
    kind: server ? 'private' : 'shared',
    async stop () {
      await client.quit().catch(() => {})
      await server?.stop('SIGTERM')
    }
  }
}

/** Redis's own CPU time so far (user + system, all its threads), in µs: INFO cpu. */
export async function redisCpuUs (redis: Redis): Promise<number> {
  const info = await redis.info('cpu')
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN)
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6
}
