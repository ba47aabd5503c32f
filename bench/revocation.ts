import { config, runPrefix } from './config.js'
import type { LoadResult } from './load.js'
import type { ProbeOptions, ProbeResult } from './probe.js'
import { Child, runWorker, Server } from './processes.js'

// Part 2: two processes A and B of the library (cached) on one Redis and one
// keyPrefix, B under a background load of other users' sessions, while the
// probe revokes sessions through A and watches for B to notice.

/** session.maxPerUser of A and B: small, so the cap eviction is cheap to set up. */
const MAX_PER_USER = 3

export interface RevocationReport {
  probe: ProbeResult
  background: LoadResult
}

export async function measureRevocation (): Promise<RevocationReport> {
  const serverOptions = { system: 'cached' as const, redisUrl: config.redisUrl, keyPrefix: `${runPrefix}revocation:`, maxPerUser: MAX_PER_USER }
  const servers: Server[] = []
  let background: Child | undefined
  try {
    servers.push(await Server.start(serverOptions), await Server.start(serverOptions))
    const [a, b] = servers as [Server, Server]
    const requests = await a.meRequests(config.users, (i) => `background-${i}`)
    background = new Child('./load.ts', {
      url: b.url,
      connections: config.backgroundConnections,
      seconds: 0,
      requests,
      overallRate: config.backgroundRate
    })
    const probeOptions: ProbeOptions = { a: a.url, b: b.url, count: config.revocations, maxPerUser: MAX_PER_USER, pollTimeoutMs: config.pollTimeoutMs }
    const probe = await runWorker<ProbeResult>('./probe.ts', probeOptions)
    await background.stop()
    return { probe, background: (await background.next('result')).result as LoadResult }
  } finally {
    await background?.stop()
    await Promise.all(servers.map((server) => server.stop()))
  }
}
