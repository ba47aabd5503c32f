import { Redis } from 'ioredis'
import { freePort, probeRedis, RedisProcess, RedisServerMissing } from '../../tools/redis-server.js'

/** A failure the demo explains in one paragraph instead of a stack trace. */
export class DemoExit extends Error {}

export interface RedisConnection {
  redis: Redis
  /** What to print: which Redis the demo uses and why. */
  description: string
  close: () => Promise<void>
}

export interface RedisChoice {
  /** REDIS_URL: used as given, and only it. */
  url?: string
  /** Tried when no url is given. Default 'redis://127.0.0.1:6379'. */
  defaultUrl?: string
  /** The command that starts a private Redis when nothing answers. Default 'redis-server'. */
  redisServer?: string
}

const HOW_TO_GET_REDIS = 'Start one (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis && redis-server`; ' +
  'Docker: `docker run --rm -p 6379:6379 redis:7`), or point REDIS_URL at one (REDIS_URL=redis://host:6379 npm start).'

/** The URL without its password, for messages. */
export function displayUrl (url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(an unparseable URL)'
  }
}

/** A redis-server of our own on a free loopback port, without persistence; null when the command is missing. */
async function startPrivateRedis (command: string): Promise<RedisProcess | null> {
  const server = new RedisProcess(await freePort(), [], command)
  try {
    await server.start()
    return server
  } catch (err) {
    if (err instanceof RedisServerMissing) return null
    throw new DemoExit(`${command} was found on the PATH but did not start answering on port ${server.port}. ${HOW_TO_GET_REDIS}`)
  }
}

/**
 * The Redis of the demo: REDIS_URL when set; else the usual local one; else a
 * private redis-server; else a DemoExit saying how to get Redis.
 */
export async function connectRedis (choice: RedisChoice = {}): Promise<RedisConnection> {
  if (choice.url) {
    const failure = await probeRedis(choice.url)
    if (failure !== null) {
      throw new DemoExit(`REDIS_URL is ${displayUrl(choice.url)} but no Redis answers there (${failure}). ` +
        'Start Redis there, fix REDIS_URL, or unset it: the demo then uses 127.0.0.1:6379 or starts its own redis-server.')
    }
    return connected(choice.url, `Redis at ${displayUrl(choice.url)} (REDIS_URL)`)
  }
  const defaultUrl = choice.defaultUrl ?? 'redis://127.0.0.1:6379'
  if (await probeRedis(defaultUrl) === null) return connected(defaultUrl, `Redis at ${displayUrl(defaultUrl)}`)

  const command = choice.redisServer ?? 'redis-server'
  const started = await startPrivateRedis(command)
  if (started === null) {
    throw new DemoExit(`The demo needs Redis: nothing answers at ${displayUrl(defaultUrl)} and there is no ${command} on the PATH to start one. ${HOW_TO_GET_REDIS}`)
  }
  const { url } = started
  return connected(url, `a private redis-server at ${url} (nothing answered at ${displayUrl(defaultUrl)}; no persistence, it stops with the demo)`,
    () => started.stop('SIGTERM'))
}

function connected (url: string, description: string, stop?: () => Promise<void>): RedisConnection {
  const redis = new Redis(url)
  return {
    redis,
    description,
    close: async () => {
      await redis.quit().catch(() => redis.disconnect())
      await stop?.()
    }
  }
}
