import type { Redis } from 'ioredis'
import { redisCpuUs } from './private-redis.js'

// What Redis did during a measured run, from INFO commandstats deltas, and the
// run's clean-up. commandstats counts every client of the server: whatever
// else runs on this Redis meanwhile is counted too (the bare route, which
// sends none, measures that background).

export type CommandCounts = Map<string, number>

export interface RedisActivity {
  /** Calls per command during the run (our own INFO left out). */
  calls: CommandCounts
  total: number
  /** Calls of commands Redis flags `write`. */
  writes: number
  /** Redis's CPU time over the run (INFO cpu: used_cpu_user + used_cpu_sys), in µs. */
  cpuUs: number
}

/** What activityBetween compares: command counts and Redis's CPU time. */
export interface RedisSnapshot {
  counts: CommandCounts
  cpuUs: number
}

export async function redisSnapshot (redis: Redis): Promise<RedisSnapshot> {
  const [counts, cpuUs] = await Promise.all([commandCounts(redis), redisCpuUs(redis)])
  return { counts, cpuUs }
}

async function commandCounts (redis: Redis): Promise<CommandCounts> {
  const info = await redis.info('commandstats')
  return new Map([...info.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)].map(([, name, calls]) => [name!, Number(calls)]))
}

/** Calls between two snapshots, with the writes among them as Redis's COMMAND INFO flags them. */
export async function activityBetween (redis: Redis, before: RedisSnapshot, after: RedisSnapshot): Promise<RedisActivity> {
  const calls: CommandCounts = new Map()
  for (const [name, count] of after.counts) {
    const delta = count - (before.counts.get(name) ?? 0)
    if (delta > 0 && name !== 'info') calls.set(name, delta)
  }
  const writing = await writeCommands(redis, [...calls.keys()])
  let total = 0
  let writes = 0
  for (const [name, count] of calls) {
    total += count
    if (writing.has(name)) writes += count
  }
  return { calls, total, writes, cpuUs: after.cpuUs - before.cpuUs }
}

async function writeCommands (redis: Redis, names: string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set()
  const docs = await redis.call('COMMAND', 'INFO', ...names) as Array<[string, number, string[]] | null>
  return new Set(names.filter((_name, i) => docs[i]?.[2].includes('write')))
}
