// The load worker of scale mode, a process of its own:
//   node --import tsx bench/spread-load.ts '{"targets":[…],"usersFile":…,"connections":64,"seconds":8,"affinity":false}'
// `connections` loops, each: a user picked at random, GET /me as that user on
// one of the instances (client-side spread: round robin over all of them, or
// with affinity the instance the user's skey hashes to, as a balancer's
// `hash $http_x_skey consistent` would), the next request when the answer is
// in. Sends { type: 'result', result: SpreadResult } over IPC.
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { Pool } from 'undici'
import { benchArgument } from './argument.js'

export interface SpreadOptions {
  targets: string[]
  /** A JSON file of each user's headers (what /bench/login answered): thousands do not fit in a command line. */
  usersFile: string
  connections: number
  seconds: number
  affinity: boolean
}

export interface SpreadResult {
  requestsPerSecond: number
  total: number
  non2xx: number
  /** Requests per target. */
  perTarget: number[]
}

const options = benchArgument<SpreadOptions>()
const users = JSON.parse(await readFile(options.usersFile, 'utf8')) as Array<Record<string, string>>
const perPool = Math.max(1, Math.ceil(options.connections / options.targets.length))
const pools = options.targets.map((url) => new Pool(url, { connections: perPool, pipelining: 1 }))
// Affinity by a hash of the skey (any header value that names the session).
const home = users.map((headers) => createHash('sha1').update(Object.values(headers).join()).digest().readUInt32BE(0) % pools.length)
const perTarget = pools.map(() => 0)
let roundRobin = 0
let total = 0
let non2xx = 0
const until = performance.now() + options.seconds * 1000

async function loop (): Promise<void> {
  while (performance.now() < until) {
    const user = Math.floor(Math.random() * users.length)
    const target = options.affinity ? home[user]! : (roundRobin++ % pools.length)
    const response = await pools[target]!.request({ method: 'GET', path: '/me', headers: users[user]! })
    await response.body.dump()
    perTarget[target]!++
    total++
    if (response.statusCode !== 200) non2xx++
  }
}

const started = performance.now()
await Promise.all(Array.from({ length: options.connections }, loop))
const elapsed = (performance.now() - started) / 1000
await Promise.all(pools.map((pool) => pool.close()))
const result: SpreadResult = { requestsPerSecond: total / elapsed, total, non2xx, perTarget }
process.send?.({ type: 'result', result }, () => process.exit(0))
