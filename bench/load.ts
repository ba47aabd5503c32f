// The load worker: autocannon in a process of its own (never in a server's),
//   node --import tsx bench/load.ts '{"url":…,"connections":50,"seconds":10,"requests":[…]}'
// Sends { type: 'result', result: LoadResult } over IPC when done. With
// seconds 0 it runs until SIGTERM, then reports.
import autocannon from 'autocannon'
import { benchArgument } from './argument.js'

export interface LoadOptions {
  url: string
  connections: number
  /** 0: until SIGTERM. */
  seconds: number
  /** Each connection sends these in turn (a path and its headers). */
  requests: Array<{ path: string, headers: Record<string, string> }>
  /** Requests per second over all connections; unset: as fast as the server answers. */
  overallRate?: number
}

export interface LoadResult {
  /** Mean of autocannon's per-second samples. */
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  total: number
  non2xx: number
  errors: number
  timeouts: number
}

const options = benchArgument<LoadOptions>()
let instance: autocannon.Instance | undefined
process.once('SIGTERM', () => instance?.stop())
process.once('disconnect', () => instance?.stop())

const result = await new Promise<autocannon.Result>((resolve, reject) => {
  instance = autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.seconds > 0 ? options.seconds : 24 * 3600,
    requests: options.requests.map(({ path, headers }) => ({ method: 'GET' as const, path, headers })),
    ...(options.overallRate ? { overallRate: options.overallRate } : {})
  }, (err, result) => err ? reject(err) : resolve(result))
})
const report: LoadResult = {
  requestsPerSecond: result.requests.average,
  p50Ms: result.latency.p50,
  p99Ms: result.latency.p99,
  total: result.requests.total,
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts
}
process.send?.({ type: 'result', result: report }, () => process.exit(0))
