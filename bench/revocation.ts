import { config, runPrefix } from './config.js'
import type { LoadResult } from './load.js'
import type { ProbeOptions, ProbeResult } from './probe.js'
import { Child, runWorker, Server } from './processes.js'

// `instances` processes of the library (cached) on one Redis and one
// keyPrefix: A revokes; every other one (B) has its event loop blocked
// `busyMs` out of every `busyEveryMs` and serves a background load of other
// users' sessions, while the probe revokes sessions through A and watches
// every B for the revocation.

/** session.maxPerUser of the servers: small, so the cap eviction is cheap to set up. */
const MAX_PER_USER = 3

export interface RevocationReport {
  instances: number
  probe: ProbeResult
  background: LoadResult[]
}

export async function measureRevocation (instances: number): Promise<RevocationReport> {
  const keyPrefix = `${runPrefix}revocation-${instances}:`
  const base = { system: 'cached' as const, redisUrl: config.redisUrl, keyPrefix, maxPerUser: MAX_PER_USER }
  const servers: Server[] = []
  const background: Child[] = []
  try {
    servers.push(await Server.start({ ...base, banRoute: true }))
    for (let i = 1; i < Math.max(2, instances); i++) {
      servers.push(await Server.start({ ...base, busyMs: config.busyMs, busyEveryMs: config.busyEveryMs }))
    }
    const [a, ...bs] = servers as [Server, ...Server[]]
    const requests = await a.meRequests(config.users, (i) => `background-${i}`)
    for (const b of bs) {
      background.push(new Child('./load.ts', {
        url: b.url,
        connections: config.backgroundConnections,
        seconds: 0,
        requests,
        overallRate: config.backgroundRate
      }))
    }
    const probeOptions: ProbeOptions = {
      a: a.url,
      bs: bs.map((b) => b.url),
      count: config.revocations,
      concurrency: config.revocationConcurrency,
      maxPerUser: MAX_PER_USER,
      pollTimeoutMs: config.pollTimeoutMs
    }
    const probe = await runWorker<ProbeResult>('./probe.ts', probeOptions)
    const loads: LoadResult[] = []
    for (const worker of background) {
      await worker.stop()
      loads.push((await worker.next('result')).result as LoadResult)
    }
    return { instances: servers.length, probe, background: loads }
  } finally {
    await Promise.all(background.map((worker) => worker.stop()))
    await Promise.all(servers.map((server) => server.stop()))
  }
}
