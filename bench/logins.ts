// npm run bench:logins: logins per second per platform against the sandboxes
// (bench/sandboxes.ts, a process of their own), one at a time and `inFlight`
// at a time, with the server's CPU per login, its Redis round trips per login
// (counted in the server: a write to Redis after a reply from it starts one;
// from the one-at-a-time run) and Redis commands per login (INFO commandstats),
// on a redis-server of the bench's own.
// Knobs: BENCH_LOGINS (per platform and run, default 2000), BENCH_LOGINS_IN_FLIGHT
// (default 50), BENCH_LOGIN_PLATFORMS (default wechat,alipay), BENCH_REDIS_URL.
// WeChat's rows are also read against the sandbox's jscode2session asked
// directly in the same run (× the sandbox alone), the yardstick that makes a
// run comparable with one on another machine or day.
// Knob: BENCH_LOGINS_PROFILE=1 runs the server under node --cpu-prof and prints, per
// platform, where the CPU of its in-flight run went (the profile stays in
// bench/profiles/, git-ignored).
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, readFile } from 'node:fs/promises'
import { availableParallelism, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { config, runPrefix } from './config.js'
import { summarise, type CpuProfile, type Share } from './cpu-profile.js'
import type { LoginLoadOptions, LoginLoadResult } from './login-load.js'
import { startBenchRedis } from './private-redis.js'
import { Child, killAll, runWorker, Server } from './processes.js'
import { activityBetween, redisSnapshot } from './redis-stats.js'
import type { LoginPlatform } from './sandboxes.js'
import { deleteKeys } from '../tools/redis-keys.js'

const LOGINS = Number(process.env.BENCH_LOGINS ?? 2000)
const IN_FLIGHT = Number(process.env.BENCH_LOGINS_IN_FLIGHT ?? 50)
const PLATFORMS = (process.env.BENCH_LOGIN_PLATFORMS ?? 'wechat,alipay').split(',') as LoginPlatform[]
const load = () => loadavg().map((n) => n.toFixed(2)).join(', ')
const PROFILE = process.env.BENCH_LOGINS_PROFILE === '1'
const profileDir = fileURLToPath(new URL(`profiles/${runPrefix.split(':')[1]}-logins/`, import.meta.url))
const windows: Array<{ platform: LoginPlatform, fromUs: number, toUs: number, logins: number }> = []

if (PROFILE) {
  await mkdir(profileDir, { recursive: true })
  // The profiled server runs the library from dist/ (its frames named by file), built now.
  execFileSync(process.execPath, [fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'tsconfig.build.json'], { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: 'inherit' })
}
const redis = await startBenchRedis()
const sandboxes = new Child('./sandboxes.ts', {})
process.on('SIGINT', () => {
  killAll()
  void redis.stop().finally(() => process.exit(130))
})

async function codes (platform: LoginPlatform, count: number): Promise<string[]> {
  sandboxes.send({ type: 'codes', platform, count })
  return (await sandboxes.next('result')).result as string[]
}

try {
  const platforms = (await sandboxes.next('result')).result as Record<LoginPlatform, Record<string, unknown>>
  const server = await Server.start({
    system: 'cached',
    fromDist: PROFILE,
    redisUrl: config.redisUrl,
    keyPrefix: `${runPrefix}logins:`,
    platforms: Object.fromEntries(PLATFORMS.map((platform) => [platform, platforms[platform]])),
    countRoundTrips: true
  }, PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=250'] : [])
  console.log(`Node ${process.version}, ${availableParallelism()} CPUs, Redis ${redis.version} (${redis.kind}), load average ${load()} at the start; ` +
    `${LOGINS} logins per platform and run, each a new user; the sandboxes in a process of their own\n`)
  console.log('| platform | in flight | logins/s | p50 ms | p99 ms | server CPU µs/login | Redis round trips/login | Redis commands/login | Redis CPU µs/login | × the sandbox alone |')
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  const sandboxAlone = new Map<number, number>()
  const details: string[] = []
  for (const platform of PLATFORMS) {
    // Warm-up: JIT, connections, scripts loaded.
    await runWorker<LoginLoadResult>('./login-load.ts', { url: server.url, platform, codes: await codes(platform, 200), inFlight: 4 } satisfies LoginLoadOptions)
    if (platform === 'wechat') {
      // The yardstick, same run: the sandbox's jscode2session asked directly, without the server.
      const { appId, appSecret, baseUrl } = platforms.wechat as { appId: string, appSecret: string, baseUrl: string }
      for (const inFlight of [1, IN_FLIGHT]) {
        const result = await runWorker<LoginLoadResult>('./login-load.ts', { url: baseUrl, platform, codes: await codes(platform, LOGINS), inFlight, sandboxApp: { appId, appSecret } } satisfies LoginLoadOptions)
        if (result.failures > 0) throw new Error(`the sandbox alone: ${result.failures} of ${result.total} exchanges failed, the first: ${result.firstFailure}`)
        sandboxAlone.set(inFlight, result.loginsPerSecond)
        console.log(`| wechat: the sandbox's jscode2session alone, no server | ${inFlight} | ${Math.round(result.loginsPerSecond).toLocaleString('en-US')} | ${result.p50Ms.toFixed(1)} | ${result.p99Ms.toFixed(1)} | – | – | – | – | 1.00 |`)
      }
    }
    for (const inFlight of [1, IN_FLIGHT]) {
      const batch = await codes(platform, LOGINS)
      const before = await server.mark('from')
      const redisBefore = await redisSnapshot(redis.client)
      const result = await runWorker<LoginLoadResult>('./login-load.ts', { url: server.url, platform, codes: batch, inFlight } satisfies LoginLoadOptions)
      const redisAfter = await redisSnapshot(redis.client)
      const after = await server.mark('to')
      if (inFlight > 1) windows.push({ platform, fromUs: before.us, toUs: after.us, logins: result.total })
      if (result.failures > 0) throw new Error(`${platform}: ${result.failures} of ${result.total} logins failed, the first: ${result.firstFailure}`)
      const activity = await activityBetween(redis.client, redisBefore, redisAfter)
      const pings = activity.calls.get('ping') ?? 0 // the cache's tracking pings, not the logins'
      const cpuUs = (after.cpu.user + after.cpu.system) - (before.cpu.user + before.cpu.system)
      console.log(`| ${platform} | ${inFlight} | ${Math.round(result.loginsPerSecond).toLocaleString('en-US')} | ${result.p50Ms.toFixed(1)} | ${result.p99Ms.toFixed(1)} | ` +
        `${Math.round(cpuUs / result.total)} | ${inFlight === 1 ? ((after.roundTrips - before.roundTrips) / result.total).toFixed(2) : '–'} | ` +
        `${((activity.total - pings) / result.total).toFixed(2)} | ${(activity.cpuUs / result.total).toFixed(1)} | ` +
        `${sandboxAlone.has(inFlight) ? (result.loginsPerSecond / sandboxAlone.get(inFlight)!).toFixed(2) : '–'} |`)
      if (inFlight === 1) {
        const perLogin = [...activity.calls].filter(([name]) => name !== 'ping').sort((x, y) => y[1] - x[1])
          .map(([name, count]) => `${name} ${(count / result.total).toFixed(2)}`).join(', ')
        details.push(`- ${platform}: ${perLogin} per login`)
      }
    }
  }
  console.log(['', ...details, '- round trips: counted in the server process, a write to Redis after a reply from Redis starting one ' +
    '(the one-at-a-time run; the cache\'s tracking pings left out); commands: INFO commandstats of the bench\'s Redis, its tracking pings left out',
  `- load average at the end: ${load()}`].join('\n'))
  await server.stop(30_000)
  if (PROFILE) {
    const name = (await readdir(profileDir)).find((file) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(file))
    if (name === undefined) throw new Error(`no profile of the main thread in ${profileDir}`)
    const profile = JSON.parse(await readFile(profileDir + name, 'utf8')) as CpuProfile
    for (const { platform, fromUs, toUs, logins } of windows) {
      const summary = summarise(profile, { fromUs, toUs })
      const rows = (shares: Share[]) => shares.filter((share) => !Number.isNaN(share.busyPercent)).slice(0, 15)
        .map(({ label, ms, busyPercent }) => `| ${label.replace(/\|/g, '\\|')} | ${busyPercent.toFixed(1)}% | ${Math.round((ms * 1000) / logins)} |`).join('\n')
      console.log(`\n### ${platform}, ${IN_FLIGHT} in flight: busy ${Math.round(summary.busyMs * 1000 / logins)} µs per login (profile: ${name})\n\n` +
        `| group (self time) | of busy | µs/login |\n|---|---:|---:|\n${rows(summary.groups)}\n\n` +
        `| function (self time) | of busy | µs/login |\n|---|---:|---:|\n${rows(summary.functions)}`)
    }
  }
} finally {
  await sandboxes.stop()
  killAll()
  await deleteKeys(redis.client, runPrefix)
  await redis.stop()
}
