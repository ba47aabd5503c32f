import type { Redis } from 'ioredis'

export interface MonitoredCommand {
  args: string[]
  source: string
}

/**
 * Records every command Redis executes (MONITOR), so tests can count what our
 * code sends. Filter by key prefix or by the client's address: other test
 * files share this Redis.
 */
export async function monitorRedis (redis: Redis): Promise<{ commands: MonitoredCommand[], settle: () => Promise<void>, stop: () => Promise<void> }> {
  const commands: MonitoredCommand[] = []
  // redis.monitor(), but keeping hold of the connection: under heavy traffic
  // from elsewhere a monitor line can arrive in the same read as MONITOR's
  // OK, before ioredis has switched the connection to monitoring mode; it
  // reports that line as "Command queue state error" and drops it, and
  // monitor() would reject and leave the connection open. Lines from before
  // the first settle() are not counted by any test anyway.
  const monitor = redis.duplicate({ monitor: true, lazyConnect: false })
  const monitoring = new Promise<void>((resolve, reject) => {
    monitor.once('monitoring', () => resolve())
    monitor.on('error', (err: Error) => {
      if (!err.message.startsWith('Command queue state error')) reject(err)
    })
  })
  await monitoring.catch((err: unknown) => {
    monitor.disconnect()
    throw err
  })
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    commands.push({ args, source })
  })
  return {
    commands,
    // MONITOR lines arrive asynchronously: a PING through the monitored
    // server, seen by the monitor, proves everything before it has arrived.
    settle: async () => {
      const marker = `settle-${Math.random()}`
      const seen = new Promise<void>((resolve) => {
        const onCommand = (_time: string, args: string[]) => {
          if (args[1] === marker) {
            monitor.off('monitor', onCommand)
            resolve()
          }
        }
        monitor.on('monitor', onCommand)
      })
      await redis.echo(marker)
      await seen
    },
    stop: async () => { monitor.disconnect() }
  }
}

/** Commands that touched a key under `prefix`. */
export function commandsOn (commands: MonitoredCommand[], prefix: string): string[][] {
  return commands.filter((c) => c.args.slice(1).some((arg) => arg.startsWith(prefix))).map((c) => c.args)
}

const WRITE_COMMANDS = new Set(['set', 'hset', 'del', 'pexpire', 'expire', 'zadd', 'zrem', 'unlink', 'hdel', 'multi', 'exec'])

export function writesOf (commands: string[][]): string[][] {
  return commands.filter((args) => WRITE_COMMANDS.has(String(args[0]).toLowerCase()))
}
