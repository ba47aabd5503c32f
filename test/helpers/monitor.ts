import type { Redis } from 'ioredis'
import { connect } from 'node:net'
import { once } from 'node:events'

export interface MonitoredCommand {
  args: string[]
  source: string
}

// ioredis's own monitor() enters monitoring mode a microtask after MONITOR's
// OK, so monitor lines that arrive in the same packet (a busy shared Redis)
// fail with "Command queue state error". A plain socket has no such window.

/** One MONITOR line: `+1700000000.123456 [0 127.0.0.1:5555] "get" "key"`; null for anything else. */
function parseLine (line: string): MonitoredCommand | null {
  const header = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] /.exec(line)
  if (!header) return null
  const args: string[] = []
  const quoted = /"((?:[^"\\]|\\.)*)"/g
  for (let match = quoted.exec(line.slice(header[0].length)); match; match = quoted.exec(line.slice(header[0].length))) {
    args.push(match[1]!.replace(/\\x([0-9a-f]{2})|\\(.)/g, (_all, hex: string | undefined, escaped: string) =>
      hex ? String.fromCharCode(parseInt(hex, 16)) : ({ n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' } as Record<string, string>)[escaped] ?? escaped))
  }
  return { args, source: header[1]! }
}

/**
 * Records every command Redis executes (MONITOR), so tests can count what our
 * code sends. Filter by key prefix or by the client's address: other test
 * files share this Redis.
 */
export interface RedisMonitor {
  commands: MonitoredCommand[]
  /** Resolves once everything the monitored server ran before this call has been recorded. */
  settle: () => Promise<void>
  /** Resolves once `count` recorded commands match (those already recorded count). */
  seen: (count: number, match: (command: MonitoredCommand) => boolean) => Promise<void>
  stop: () => Promise<void>
}

export async function monitorRedis (redis: Redis): Promise<RedisMonitor> {
  const commands: MonitoredCommand[] = []
  const waiting = new Map<string, () => void>()
  const watchers = new Set<() => void>()
  const socket = connect(redis.options.port ?? 6379, redis.options.host ?? '127.0.0.1')
  await once(socket, 'connect')
  let buffered = ''
  let started: () => void
  const monitoring = new Promise<void>((resolve) => { started = resolve })
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => {
    buffered += chunk
    const lines = buffered.split('\r\n')
    buffered = lines.pop() ?? ''
    for (const line of lines) {
      if (line === '+OK') started()
      const command = parseLine(line)
      if (!command) continue
      commands.push(command)
      if (command.args[0]?.toLowerCase() === 'echo') waiting.get(command.args[1] ?? '')?.()
      for (const watcher of watchers) watcher()
    }
  })
  socket.write('MONITOR\r\n')
  await monitoring
  return {
    commands,
    // MONITOR lines arrive asynchronously: an ECHO through the monitored
    // server, seen by the monitor, proves everything before it has arrived.
    settle: async () => {
      const marker = `settle-${Math.random()}`
      const seen = new Promise<void>((resolve) => waiting.set(marker, resolve))
      await redis.echo(marker)
      await seen
      waiting.delete(marker)
    },
    seen: (count, match) => new Promise<void>((resolve) => {
      const watcher = () => {
        if (commands.filter(match).length < count) return
        watchers.delete(watcher)
        resolve()
      }
      watchers.add(watcher)
      watcher()
    }),
    stop: async () => {
      socket.destroy()
    }
  }
}

/** Commands that touched a key under `prefix`. */
export function commandsOn (commands: MonitoredCommand[], prefix: string): string[][] {
  return commands.filter((c) => c.args.slice(1).some((arg) => arg.startsWith(prefix))).map((c) => c.args)
}

const WRITE_COMMANDS = new Set(['set', 'hset', 'del', 'pexpire', 'expire', 'zadd', 'zrem', 'unlink', 'hdel', 'multi', 'exec', 'eval'])

export function writesOf (commands: string[][]): string[][] {
  return commands.filter((args) => WRITE_COMMANDS.has(String(args[0]).toLowerCase()))
}
