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
  const monitor = await redis.monitor()
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
