import calculateSlot from 'cluster-key-slot'
import { Cluster, type Redis } from 'ioredis'
import { StoreUnavailableError } from '../errors.js'
import { isReadOnlyError, nodeName, sentinelsOf } from './redis-nodes.js'

// The writes a revocation is acknowledged on (tombstones, bans, the
// issued-before mark), made to survive a failover: Redis replicates
// asynchronously, so a master that dies right after a DEL can take it with it
// and a promoted replica brings the session back. Each write goes on a
// connection of our own to its node, followed by WAIT for the replicas; too
// few acknowledge in time, and the caller gets a retryable 503 instead of an
// acknowledgement a failover could take back. Those connections never resend:
// a WAIT that ioredis resent to a new master after a reconnection would
// answer at once there, for a write the old master lost.

/** One command on one key: a Redis command ('set', 'zrem') or a script the gateway registered. */
export interface Write {
  key: string
  command: string
  args: Array<string | number>
}

type Pipeline = Record<string, (...args: Array<string | number>) => unknown> & { exec: () => Promise<Array<[Error | null, unknown]> | null> }

export type ReplicasOption = number | 'auto'

/** How often 'auto' looks for replicas again, until it has seen one. */
const RECHECK_MS = 30_000

// The client's own keyPrefix, if any, stays: these write the keys its other commands read.
const WRITER_OPTIONS = {
  autoResendUnfulfilledCommands: false,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  // A writer on a node that has become a replica (a Sentinel client checks the
  // role only as it connects) reconnects, asking the sentinels again; nothing is resent.
  reconnectOnError: (err: Error) => isReadOnlyError(err) ? 1 : false
} as const

export class DurableWrites {
  readonly #writers = new Map<string, Redis>()
  readonly #fixed: number | null
  /** 'auto': each master's replicas as last seen (once one is seen, kept: a lagging replica must not make WAIT optional). */
  readonly #seen = new Map<string, { replicas: number, checkedAt: number }>()

  /**
   * `replicas`: how many replicas must have each write, or 'auto': one when
   * the set-up has replicas (Sentinel; a master with a replica), none else.
   * `waitMs`: how long WAIT may wait for them.
   */
  constructor (
    private readonly redis: Redis | Cluster,
    replicas: ReplicasOption,
    private readonly waitMs: number,
    /** Registers the gateway's scripts on a connection of ours. */
    private readonly defineScripts: (connection: Redis) => void
  ) {
    this.#fixed = replicas === 'auto' ? null : replicas
  }

  /** Runs the writes (grouped by node, one round trip each), then WAIT where replicas are required. */
  async write (writes: Write[]): Promise<unknown[]> {
    if (writes.length === 0) return []
    const groups = new Map<string, { master: Redis, indexes: number[] }>()
    for (const [i, { key }] of writes.entries()) {
      const master = this.redis instanceof Cluster ? this.#masterOf(key) : this.redis
      const name = nodeName(master)
      const group = groups.get(name) ?? { master, indexes: [] }
      group.indexes.push(i)
      groups.set(name, group)
    }
    const results: unknown[] = new Array(writes.length)
    await Promise.all([...groups.values()].map(async ({ master, indexes }) => {
      const replicas = await this.#required(master)
      // Without replicas nothing is waited for: the app's own connection will do.
      const connection = replicas === 0 ? master : await this.#writerFor(master)
      // A Cluster's node connections are not the client the scripts were registered on.
      this.defineScripts(connection)
      const pipeline = connection.pipeline() as unknown as Pipeline
      for (const i of indexes) pipeline[writes[i]!.command]!(writes[i]!.key, ...writes[i]!.args)
      if (replicas > 0) pipeline.wait!(replicas, this.waitMs)
      const replies = await pipeline.exec()
      if (replies === null) throw new StoreUnavailableError()
      for (const [n, i] of indexes.entries()) {
        const [err, value] = replies[n]!
        if (err) throw err
        results[i] = value
      }
      if (replicas === 0) return
      // A WAIT that failed (its connection closed: a failover kills clients) acknowledged nothing.
      const [waitError, acknowledged] = replies.at(-1)!
      if (waitError !== null || !(Number(acknowledged) >= replicas)) {
        throw new StoreUnavailableError({ cause: waitError ?? new Error(`WAIT: fewer than ${replicas} replica(s) acknowledged the revocation within ${this.waitMs} ms`) })
      }
    }))
    return results
  }

  close (): void {
    for (const writer of this.#writers.values()) writer.disconnect()
    this.#writers.clear()
  }

  /**
   * The replicas a write to `master` waits for. 'auto': one under Sentinel;
   * else one once the master has been seen with a replica (kept from then
   * on), none before that, asked again now and then.
   */
  async #required (master: Redis): Promise<number> {
    if (this.#fixed !== null) return this.#fixed
    if (sentinelsOf(this.redis) !== null) return 1
    const name = nodeName(master)
    const seen = this.#seen.get(name)
    if (seen !== undefined && (seen.replicas > 0 || performance.now() - seen.checkedAt < RECHECK_MS)) return seen.replicas
    const info = await master.info('replication').catch(() => '')
    const replicas = /^connected_slaves:[1-9]/m.test(info) ? 1 : 0
    this.#seen.set(name, { replicas, checkedAt: performance.now() })
    return replicas
  }

  /** Our writer connection to a master, once it is ready (with no offline queue, a command sent before would fail). */
  async #writerFor (master: Redis): Promise<Redis> {
    const name = nodeName(master)
    let writer = this.#writers.get(name)
    if (writer === undefined || writer.status === 'end') {
      writer = master.duplicate(WRITER_OPTIONS)
      writer.on('error', () => {}) // its commands fail on their own, as 503s
      this.defineScripts(writer)
      this.#writers.set(name, writer)
    }
    // A Cluster's node options say lazyConnect: ours connects now.
    if (writer.status === 'wait') writer.connect().catch(() => {})
    if (writer.status !== 'ready') {
      const connecting = writer
      await new Promise<void>((resolve, reject) => {
        const ready = () => { connecting.off('close', closed); resolve() }
        const closed = () => { connecting.off('ready', ready); reject(new StoreUnavailableError()) }
        connecting.once('ready', ready)
        connecting.once('close', closed)
      })
    }
    return writer
  }

  #masterOf (key: string): Redis {
    const cluster = this.redis as Cluster
    const fullKey = ((cluster.options as { keyPrefix?: string }).keyPrefix ?? '') + key
    const master = cluster.slots[calculateSlot(fullKey)]?.[0]
    const node = master === undefined ? undefined : cluster.nodes('master').find((candidate) => nodeName(candidate) === master)
    if (node === undefined) throw new StoreUnavailableError({ cause: new Error('the Cluster does not know the node of this slot yet') })
    return node
  }
}
