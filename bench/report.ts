import { config } from './config.js'
import { median } from './median.js'
import type { KindResult } from './probe.js'
import type { RevocationReport } from './revocation.js'
import { SYSTEMS, type System } from './systems.js'
import type { ThroughputRow } from './throughput.js'

// The tables `npm run bench` prints, as Markdown (ready for docs/performance.md).

function table (head: string[], rows: string[][]): string {
  const widths = head.map((cell, i) => Math.max(cell.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: string[]) => `| ${cells.map((cell, i) => i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)).join(' | ')} |`
  const rule = `|${widths.map((width, i) => i === 0 ? '-'.repeat(width + 2) : '-'.repeat(width + 1) + ':').join('|')}|`
  return [line(head), rule, ...rows.map(line)].join('\n')
}

const integer = (n: number) => Math.round(n).toLocaleString('en-US')
const fixed = (n: number, digits: number) => n.toFixed(digits)

/**
 * One line per system: medians over the rounds, and the ratio to the bare
 * route measured in the same round (then the median and range of those).
 */
export function throughputTable (rows: ThroughputRow[], seconds: number): string {
  const systems = [...new Set(rows.map((row) => row.system))]
  const rounds = [...new Set(rows.map((row) => row.round))]
  const bareIn = (round: number) => rows.find((row) => row.system === 'bare' && row.round === round)
  const ratios = (system: System) => rows.filter((row) => row.system === system && bareIn(row.round) !== undefined)
    .map((row) => row.load.requestsPerSecond / bareIn(row.round)!.load.requestsPerSecond)
  const lines = [table(
    ['system', 'req/s (median)', '× bare (median)', '× bare (range)', 'server CPU µs/req (median)', 'p99 ms (median)', 'Redis cmds/req', 'writes/req', 'Redis CPU µs/req'],
    systems.map((system) => {
      const own = rows.filter((row) => row.system === system)
      const requests = own.reduce((sum, row) => sum + row.load.total, 0)
      const backed = SYSTEMS[system].redis
      const vsBare = ratios(system)
      return [
        SYSTEMS[system].label,
        integer(median(own.map((row) => row.load.requestsPerSecond))),
        vsBare.length > 0 ? `${fixed(median(vsBare), 2)}×` : '–',
        vsBare.length > 0 ? `${fixed(Math.min(...vsBare), 2)}–${fixed(Math.max(...vsBare), 2)}×` : '–',
        fixed(median(own.map((row) => row.cpuUsPerRequest)), 1),
        String(median(own.map((row) => row.load.p99Ms))),
        backed ? fixed(own.reduce((sum, row) => sum + row.redis.total, 0) / requests, 2) : '–',
        backed ? fixed(own.reduce((sum, row) => sum + row.redis.writes, 0) / requests, 3) : '–',
        backed ? fixed(own.reduce((sum, row) => sum + row.redis.cpuUs, 0) / requests, 1) : '–'
      ]
    })
  )]
  lines.push(`- ${rounds.length} round(s) of ${seconds} s per system, in ${config.slices} slice(s) each: the systems take turns, ` +
    'each slice in another order (a row adds up its round\'s slices; p99: the slices\' median); a ratio compares a system with the bare route of the same round; server CPU: ' +
    'what the server process used per request (process.cpuUsage), which other load on the machine disturbs less than req/s; ' +
    'Redis CPU: INFO cpu (used_cpu_user + used_cpu_sys) over the measured run, per request')
  lines.push('', '× bare in each round (the done-when checks compare within a round):', '', table(
    ['round', ...systems],
    rounds.map((round) => [String(round + 1), ...systems.map((system) => {
      const row = rows.find((row) => row.system === system && row.round === round)
      const bare = bareIn(round)
      return row && bare ? fixed(row.load.requestsPerSecond / bare.load.requestsPerSecond, 2) : '–'
    })])
  ))
  const rps = (system: System, round: number) => rows.find((row) => row.system === system && row.round === round)?.load.requestsPerSecond
  const check = (what: string, ok: (round: number) => boolean | undefined) => {
    const verdicts = rounds.map(ok)
    if (verdicts.some((verdict) => verdict === undefined)) return
    lines.push(`- ${what}: ${verdicts.filter(Boolean).length} of ${rounds.length} rounds`)
  }
  const ratio = (system: System, round: number) => {
    const own = rps(system, round)
    const bare = rps('bare', round)
    return own === undefined || bare === undefined ? undefined : own / bare
  }
  const ahead = (x: System, y: System) => (round: number) => {
    const a = rps(x, round)
    const b = rps(y, round)
    return a === undefined || b === undefined ? undefined : a > b
  }
  lines.push('')
  check('cache hit ≥ 0.85× bare', (round) => { const r = ratio('cached', round); return r === undefined ? undefined : r >= 0.85 })
  check('cache hit ahead of @fastify/jwt', ahead('cached', 'jwt'))
  for (const miss of ['miss', 'uncached'] as const) {
    check(`${miss} ≥ naive one-GET`, (round) => {
      const a = rps(miss, round)
      const b = rps('naive-get', round)
      return a === undefined || b === undefined ? undefined : a >= b
    })
    check(`${miss} ahead of @fastify/jwt`, ahead(miss, 'jwt'))
  }
  for (const system of systems) {
    if (!SYSTEMS[system].redis) continue
    const own = rows.filter((row) => row.system === system)
    const requests = own.reduce((sum, row) => sum + row.load.total, 0)
    const calls = new Map<string, number>()
    for (const row of own) for (const [name, count] of row.redis.calls) calls.set(name, (calls.get(name) ?? 0) + count)
    const perRequest = [...calls].sort((x, y) => y[1] - x[1]).slice(0, 6).map(([name, count]) => `${name} ${fixed(count / requests, 3)}`)
    lines.push(`- ${system}: ${perRequest.join(', ') || 'no Redis commands'} per request (${integer(requests)} requests)`)
  }
  const bare = rows.filter((row) => row.system === 'bare')
  if (bare.length > 0) {
    // The bare route sends nothing to Redis: what commandstats counted meanwhile came from other clients.
    const total = bare.reduce((sum, row) => sum + row.redis.total, 0)
    const writes = bare.reduce((sum, row) => sum + row.redis.writes, 0)
    const cpuUs = bare.reduce((sum, row) => sum + row.redis.cpuUs, 0)
    lines.push(`- Redis's background: ${integer(total)} commands (${integer(total / (seconds * bare.length))}/s, ${integer(writes)} writes), ` +
      `${integer(cpuUs / (seconds * bare.length))} µs of Redis CPU per second during the bare runs, which send none ` +
      '(the library\'s tracking pings of the servers idle meanwhile); the counts above include that background')
  }
  return lines.join('\n')
}

function percentile (sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

function revocationRow (result: KindResult): string[] {
  const sorted = [...result.visibleMs].sort((x, y) => x - y)
  const acknowledged = [...result.acknowledgeMs].sort((x, y) => x - y)
  return [
    result.kind,
    integer(result.acknowledgeMs.length),
    String(result.staleSuccesses),
    String(result.staleRevocations),
    String(result.timeouts),
    fixed(percentile(acknowledged, 0.5), 1),
    fixed(percentile(acknowledged, 0.99), 1),
    fixed(percentile(sorted, 0.5), 1),
    fixed(percentile(sorted, 0.99), 1),
    // A revocation that timed out counts the time given up after: a lower bound.
    (result.timeouts > 0 ? '≥' : '') + fixed(sorted.at(-1) ?? NaN, 1),
    fixed(result.polls / Math.max(1, result.visibleMs.length), 2),
    fixed(percentile([...result.roundTripMs].sort((x, y) => x - y), 0.5), 1)
  ]
}

export function revocationTable ({ instances, probe, background }: RevocationReport): string {
  const requests = background.reduce((sum, load) => sum + load.total, 0)
  return [
    table(
      ['revoked on A by', 'n', 'stale 200s', 'stale revocations', 'timeouts', 'acknowledged p50 ms', 'p99 ms', 'seen on B p50 ms', 'p99 ms', 'max ms', 'polls per B', 'B round trip p50 ms'],
      probe.map(revocationRow)
    ),
    `- ${instances} instances: A revokes, ${instances - 1} B watched; every B busy ${'' + config.busyMs} ms out of every ${config.busyEveryMs} ms and under background load`,
    '- stale 200s: GET /me answered 200 by a B although sent after A\'s revoking answer arrived (target 0)',
    '- acknowledged: A\'s revoking call from sent to answered (the lease and the WAIT are in it); seen on B: from the arrival of A\'s answer to ' +
      'the arrival of that B\'s first 401 (polls per B 1.00: the first one already failed, and the ms are one round trip to a busy B)',
    `- background load on the Bs: ${integer(background.reduce((sum, load) => sum + load.requestsPerSecond, 0))} req/s in all, ` +
      `p99 ${Math.max(...background.map((load) => load.p99Ms))} ms, ${integer(requests)} requests, ` +
      `${background.reduce((sum, load) => sum + load.non2xx, 0)} non-2xx, ${background.reduce((sum, load) => sum + load.errors, 0)} errors`
  ].join('\n')
}
