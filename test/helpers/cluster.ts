import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { freeClusterPort, RedisProcess } from './redis.js'

const run = promisify(execFile)

export interface TestCluster {
  /** The masters' ports, then the replicas'. */
  ports: number[]
  nodes: RedisProcess[]
  /** `redis-cli -p <port> <args>`, its output. */
  cli: (port: number, ...args: string[]) => Promise<string>
  stop: () => Promise<void>
}

/** A real Redis Cluster on spare local ports: `masters` masters, and one replica for each of the first `replicas`. */
export async function startCluster (masters: number, replicas = 0): Promise<TestCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'mpa-cluster-'))
  const ports: number[] = []
  while (ports.length < masters + replicas) {
    const port = await freeClusterPort()
    if (!ports.includes(port)) ports.push(port)
  }
  const nodes = ports.map((port) => new RedisProcess(port, [
    '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--dir', dir, '--cluster-node-timeout', '2000'
  ]))
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()))
    await rm(dir, { recursive: true, force: true })
  }
  const cli = async (port: number, ...args: string[]) => (await run('redis-cli', ['-p', String(port), ...args])).stdout
  try {
    await Promise.all(nodes.map((node) => node.start()))
    const masterPorts = ports.slice(0, masters)
    await run('redis-cli', ['--cluster', 'create', ...masterPorts.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'])
    await settled(cli, masterPorts)
    for (let i = 0; i < replicas; i++) {
      const masterId = (await cli(masterPorts[i]!, 'cluster', 'myid')).trim()
      await run('redis-cli', ['--cluster', 'add-node', `127.0.0.1:${ports[masters + i]}`, `127.0.0.1:${masterPorts[0]}`, '--cluster-slave', '--cluster-master-id', masterId])
    }
    if (replicas > 0) {
      await replicasListed(cli, masterPorts, ports.slice(masters))
      await settled(cli, ports)
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { ports, nodes, cli, stop }
}

/**
 * Every node says the cluster is ok and knows every other node: one node's
 * `cluster_state:ok` alone leaves the others free to answer CLUSTERDOWN to
 * the first commands a client routes to them.
 */
async function settled (cli: TestCluster['cli'], ports: number[]): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const infos = await Promise.all(ports.map((port) => cli(port, 'cluster', 'info')))
    if (infos.every((info) => info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${ports.length}`))) return
    await sleep(50)
  }
  throw new Error('the cluster did not settle')
}

/**
 * A replica serves failover once it has synced with its master, and clients
 * learn of it from CLUSTER SLOTS, which lists it only once gossip has carried
 * its replication offset to every master.
 */
async function replicasListed (cli: TestCluster['cli'], masterPorts: number[], replicaPorts: number[]): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const infos = await Promise.all(replicaPorts.map((port) => cli(port, 'info', 'replication')))
    const slots = await Promise.all(masterPorts.map((port) => cli(port, 'cluster', 'slots')))
    const listed = slots.every((reply) => replicaPorts.every((port) => reply.split('\n').includes(String(port))))
    if (listed && infos.every((info) => info.includes('master_link_status:up'))) return
    await sleep(50)
  }
  throw new Error('the replicas did not join the cluster')
}
