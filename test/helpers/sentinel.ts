import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { probeRedis } from '../../tools/redis-server.js'
import { freePort, RedisProcess } from './redis.js'

// A real Sentinel set-up on spare local ports: one master, one replica, three
// sentinels that watch them (quorum 2), in a temporary folder (sentinels
// rewrite their configuration). Stopping it removes every key written.

const MASTER_NAME = 'mpa-master'
const NO_SYNC_DELAY = ['--repl-diskless-sync-delay', '0']

export interface TestSentinel {
  master: RedisProcess
  replica: RedisProcess
  sentinels: Array<{ host: string, port: number }>
  /** An ioredis client through the sentinels, as an app configures it. */
  client: () => Redis
  /** Each client's status, the port it is connected to and its last error: what an instance that answers 503 is waiting on. */
  clientStates: () => string
  /** The address the sentinels name as master now. */
  masterAddress: () => Promise<string>
  /** `redis-cli` on one port, its output. */
  cli: (port: number, ...args: string[]) => Promise<string>
  stop: () => Promise<void>
}

export async function startSentinel (): Promise<TestSentinel> {
  const dir = await mkdtemp(join(tmpdir(), 'mpa-sentinel-'))
  // Either may become the master: neither waits 5 s (Redis's default) before a full sync.
  const master = new RedisProcess(await freePort(), NO_SYNC_DELAY)
  const replica = new RedisProcess(await freePort(), NO_SYNC_DELAY)
  const children: ChildProcess[] = []
  const clients: Redis[] = []
  const lastErrors = new Map<Redis, string>()
  const stop = async () => {
    for (const client of clients) client.disconnect()
    for (const child of children) child.kill('SIGKILL')
    await Promise.all(children.filter((child) => child.exitCode === null).map((child) => once(child, 'exit')))
    await Promise.all([master.stop(), replica.stop()])
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await Promise.all([master.start(), replica.start()])
    const admin = new Redis({ port: replica.port })
    await admin.replicaof('127.0.0.1', master.port)
    admin.disconnect()
    await waitFor(async () => (await cli(replica.port, 'info', 'replication')).includes('master_link_status:up'), 'the replica did not sync')
    const sentinels: Array<{ host: string, port: number }> = []
    for (let i = 0; i < 3; i++) {
      const port = await freePort()
      const conf = join(dir, `sentinel-${port}.conf`)
      await writeFile(conf, [
        `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
        `sentinel failover-timeout ${MASTER_NAME} 4000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`
      ].join('\n') + '\n')
      const child = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' })
      children.push(child)
      await waitFor(async () => await probeRedis(`redis://127.0.0.1:${port}`) === null, 'a sentinel did not start')
      sentinels.push({ host: '127.0.0.1', port })
    }
    // Every sentinel knows the replica and the other sentinels before the test relies on them.
    await waitFor(async () => {
      const views = await Promise.all(sentinels.map(async ({ port }) => [
        await cli(port, 'sentinel', 'replicas', MASTER_NAME), await cli(port, 'sentinel', 'sentinels', MASTER_NAME)
      ]))
      return views.every(([replicas, others]) => replicas!.includes(String(replica.port)) && (others!.match(/^name$/gm) ?? []).length === 2)
    }, 'the sentinels did not find each other')
    return {
      master,
      replica,
      sentinels,
      client: () => {
        // failoverDetector as docs/operations.md suggests it: on ioredis 6.1.0 and later (before it, a failover could end the client).
        const client = new Redis({ sentinels, name: MASTER_NAME, failoverDetector: true })
        // A failover drops connections on purpose: the last error is kept for clientStates.
        client.on('error', (err: Error) => { lastErrors.set(client, err.message) })
        clients.push(client)
        return client
      },
      clientStates: () => clients.map((client, i) =>
        `client ${i + 1}: ${client.status}, to port ${client.stream?.remotePort ?? 'none'}, last error ${lastErrors.get(client) ?? 'none'}`).join('; '),
      masterAddress: async () => (await cli(sentinels[0]!.port, 'sentinel', 'get-master-addr-by-name', MASTER_NAME)).trim().split('\n').join(':'),
      cli,
      stop
    }
  } catch (err) {
    await stop()
    throw err
  }
}

async function cli (port: number, ...args: string[]): Promise<string> {
  const child = spawn('redis-cli', ['-p', String(port), ...args])
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  await once(child, 'exit')
  return output
}

/** Polls `condition` every 50 ms, for at most 20 s. */
export async function waitFor (condition: () => Promise<boolean>, failure: string): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    if (await condition()) return
    await sleep(50)
  }
  throw new Error(failure)
}
