import type { KindResult } from './probe.js'
import type { RevocationReport } from './revocation.js'
import { SYSTEMS } from './systems.js'
import type { ThroughputRow } from './throughput.js'

// The tables `npm run bench` prints, as Markdown (ready for the README).

function table (head: string[], rows: string[][]): string {
  const widths = head.map((cell, i) => Math.max(cell.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: string[]) => `| ${cells.map((cell, i) => i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)).join(' | ')} |`
  const rule = `|${widths.map((width, i) => i === 0 ? '-'.repeat(width + 2) : '-'.repeat(width + 1) + ':').join('|')}|`
  return [line(head), rule, ...rows.map(line)].join('\n')
}

const integer = (n: number) => Math.round(n).toLocaleString('en-US')
const fixed = (n: number, digits: number) => n.toFixed(digits)

export function throughputTable (rows: ThroughputRow[], seconds: number): string {
  const bare = rows.find((row) => row.system === 'bare')
  const lines = [table(
    ['system', 'req/s', 'vs bare', 'p99 ms', 'Redis cmds/req', 'writes/req'],
    rows.map(({ system, load, redis }) => {
      const backed = SYSTEMS[system].redis
      return [
        SYSTEMS[system].label,
        integer(load.requestsPerSecond),
        bare ? `${fixed(load.requestsPerSecond / bare.load.requestsPerSecond, 2)}×` : '–',
        String(load.p99Ms),
        backed ? fixed(redis.total / load.total, 2) : '–',
        backed ? fixed(redis.writes / load.total, 3) : '–'
      ]
    })
  )]
  for (const { system, load, redis } of rows) {
    if (!SYSTEMS[system].redis) continue
    const perRequest = [...redis.calls].sort((x, y) => y[1] - x[1]).slice(0, 6).map(([name, calls]) => `${name} ${fixed(calls / load.total, 3)}`)
    lines.push(`- ${system}: ${perRequest.join(', ') || 'no Redis commands'} per request (${integer(load.total)} requests)`)
  }
  if (bare) {
    // The bare route sends nothing to Redis: what commandstats counted meanwhile came from other clients.
    const rate = bare.redis.total / seconds
    lines.push(`- other clients of this Redis: ${integer(bare.redis.total)} commands (${integer(rate)}/s, ${integer(bare.redis.writes)} writes) ` +
      'during the bare run, which sends none; the counts above include that background')
  }
  return lines.join('\n')
}

function percentile (sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

function revocationRow (result: KindResult): string[] {
  const sorted = [...result.visibleMs].sort((x, y) => x - y)
  return [
    result.kind,
    String(result.visibleMs.length),
    fixed(percentile(sorted, 0.5), 1),
    fixed(percentile(sorted, 0.99), 1),
    // A revocation that timed out counts the time given up after: a lower bound.
    (result.timeouts > 0 ? '≥' : '') + fixed(sorted.at(-1) ?? NaN, 1),
    String(result.staleSuccesses),
    String(result.staleRevocations),
    String(result.timeouts),
    fixed(result.polls / Math.max(1, result.visibleMs.length), 2),
    fixed(percentile([...result.roundTripMs].sort((x, y) => x - y), 0.5), 1)
  ]
}

export function revocationTable ({ probe, background }: RevocationReport): string {
  return [
    table(
      ['revoked on A by', 'n', 'p50 ms', 'p99 ms', 'max ms', 'stale 200s', 'stale revocations', 'timeouts', 'polls/revocation', 'B round trip p50 ms'],
      probe.map(revocationRow)
    ),
    '- ms: from the arrival of A\'s revoking answer to the arrival of B\'s first 401; polls: GET /me sent to B one after the other until then ' +
      '(1.00: the first one already failed, and the ms are one round trip to B, as its round trip before the revocation shows)',
    '- stale 200s: GET /me answered 200 by B although sent after A\'s revoking answer arrived (target 0)',
    `- background load on B: ${integer(background.requestsPerSecond)} req/s, p99 ${background.p99Ms} ms, ` +
      `${integer(background.total)} requests, ${background.non2xx} non-2xx, ${background.errors} errors`
  ].join('\n')
}
