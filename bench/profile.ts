// npm run bench:profile: a CPU profile of one system's authenticated route
// under load. The server alone runs under `node --cpu-prof`, with the library
// compiled as published (dist/, which the npm script builds first: tsx's
// transpiled source would add its own helpers to the profile); autocannon runs
// in its own process. Prints a Markdown summary of the measured window (the
// warm-up and the start-up left out); the .cpuprofile stays in
// bench/profiles/ (git-ignored) for Chrome DevTools or speedscope.
// Redis: a redis-server of its own (bench/private-redis.ts), or BENCH_REDIS_URL.
//   Knobs: BENCH_PROFILE_SYSTEM (a system of bench/systems.ts: cached, miss, uncached, naive-get, naive-hash, bare, jwt, session; default cached),
//   BENCH_PROFILE_SECONDS, BENCH_PROFILE_CACHE_MAX (session.cache { max } of the library systems: smaller than
//   BENCH_USERS, the cache of an instance among many), BENCH_WARMUP_SECONDS, BENCH_CONNECTIONS, BENCH_USERS, BENCH_REDIS_URL.
import { mkdir, readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { config, runPrefix } from './config.js'
import { summarise, type CpuProfile, type Share } from './cpu-profile.js'
import type { LoadResult } from './load.js'
import { startBenchRedis } from './private-redis.js'
import { runWorker, Server } from './processes.js'
import { deleteKeys } from '../tools/redis-keys.js'

const SAMPLING_US = 250
// One folder per run: every thread of the server (tsx's loader runs in one of
// its own) writes a profile, CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile.
const folder = `profiles/${runPrefix.split(':')[1]}/`
const dir = fileURLToPath(new URL(folder, import.meta.url))
await mkdir(dir, { recursive: true })

const redis = await startBenchRedis()
const cacheMax = process.env.BENCH_PROFILE_CACHE_MAX === undefined ? {} : { cacheMax: Number(process.env.BENCH_PROFILE_CACHE_MAX) }
const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${SAMPLING_US}`]
const server = await Server.start({ system: config.profileSystem, redisUrl: config.redisUrl, keyPrefix: `${runPrefix}profile:`, fromDist: true, ...cacheMax }, nodeArgs)
let load: LoadResult
let window: { fromUs: number, toUs: number }
let cpu: { user: number, system: number }
try {
  const requests = await server.meRequests(config.users, (i) => `user-${i}`)
  const options = { url: server.url, connections: config.connections, requests }
  if (config.warmupSeconds > 0) await runWorker<LoadResult>('./load.ts', { ...options, seconds: config.warmupSeconds })
  const from = await server.mark('from')
  load = await runWorker<LoadResult>('./load.ts', { ...options, seconds: config.profileSeconds })
  const to = await server.mark('to')
  window = { fromUs: from.us, toUs: to.us }
  cpu = { user: to.cpu.user - from.cpu.user, system: to.cpu.system - from.cpu.system }
} finally {
  await server.stop(30_000) // writing the profile takes a moment
  await deleteKeys(redis.client, runPrefix)
  await redis.stop()
}

// The main thread is thread 0.
const name = (await readdir(dir)).find((file) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(file))
if (name === undefined) throw new Error(`no profile of the main thread in ${dir}`)
const profile = JSON.parse(await readFile(dir + name, 'utf8')) as CpuProfile
if (window.fromUs < profile.startTime || window.toUs > profile.endTime) {
  throw new Error(`the measured window ${window.fromUs}–${window.toUs} µs is not on the profile's clock (${profile.startTime}–${profile.endTime})`)
}
const summary = summarise(profile, window)

// The sampler records where the main thread is, on CPU or not: a thread
// preempted inside a system call is charged to that call. The CPU the
// process really got says how much of "busy" was CPU time.
const ofWindow = (us: number) => `${((100 * us) / (window.toUs - window.fromUs)).toFixed(0)}%`
const percent = (n: number) => Number.isNaN(n) ? '–' : `${n.toFixed(1)}%`
const rows = (shares: Share[], limit: number) => shares.slice(0, limit)
  .map(({ label, ms, percent: all, busyPercent }) => `| ${label.replace(/\|/g, '\\|')} | ${percent(busyPercent)} | ${percent(all)} | ${Math.round(ms)} |`)
  .join('\n')

console.log(`profile: bench/${folder}${name} (${summary.samples} samples in the measured window, every ${SAMPLING_US} µs: ${Math.round(summary.ms)} ms, ${Math.round(summary.busyMs)} ms of them busy)
load: ${config.connections} connections, ${config.profileSeconds} s after ${config.warmupSeconds} s of warm-up, ${config.users} users, ` +
  `${Math.round(load.requestsPerSecond)} req/s under the profiler, p99 ${load.p99Ms} ms, Node ${process.version}
server CPU time over the window (process.cpuUsage, all threads): ${ofWindow(cpu.user + cpu.system)} of one core ` +
  `(user ${ofWindow(cpu.user)}, system ${ofWindow(cpu.system)}); the profile's busy samples: ${ofWindow(summary.busyMs * 1000)}

### Self time by group

| group | self, of busy | self, of all | ms |
|---|---:|---:|---:|
${rows(summary.groups, 40)}

### Top functions (self time)

| function | self, of busy | self, of all | ms |
|---|---:|---:|---:|
${rows(summary.functions, 30)}

### Steps of the hot path (inclusive: the step anywhere on the stack; an async function counts while it runs, its callers not in its continuations)

| step | total, of busy | total, of all | ms |
|---|---:|---:|---:|
${rows(summary.steps, summary.steps.length)}`)
