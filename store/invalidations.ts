import { Cluster, Redis } from 'ioredis'
import { setTimeout as sleep } from 'node:timers/promises'
import { nodeName, sentinelsOf } from './redis-nodes.js'

// Redis server-assisted client-side caching, over RESP2 (ioredis does not
// surface RESP3 invalidation pushes): per Redis node, one connection of our
// own asks for CLIENT TRACKING in broadcast mode on the session keys' and the
// control keys' prefixes, redirected to itself, and subscribes to the
// invalidation channel. Redis then tells it of every write, deletion, expiry
// or eviction of such a key, by any client.
//
// The freshness lease: each of those connections is pinged every quarter
// lease. Redis answers a PING after everything it sent that connection
// before, so once this process has read the answer to a ping sent at t, it
// has read every invalidation of every write Redis finished before t. Until
// `lease` after the oldest such t among the nodes, the cache may answer; a
// writer that waits `lease` after its write's reply before it acknowledges
// (store/sessions.ts) therefore knows no instance answers from a copy the
// write outdated, however busy or cut off that instance is.
//
// One job, the tracking connections (one per node, followed as a Cluster's
// nodes come and go, each with its lease pings): the size is the failure
// handling each connection needs, not a second job.
const CHANNEL = '__redis__:invalidate'

export interface InvalidationHandlers {
  /** Keys that changed, prefix included. */
  invalidate: (keys: string[]) => void
  /** Anything may have changed: a lost connection, a new node, or FLUSHDB. */
  flush: () => void
  /** Every node is tracked again, or one stopped being: whether the cache may be used. */
  readiness: (ready: boolean, reason: string) => void
  /** A node's ping went unanswered for a heartbeat: Redis may be frozen. */
  suspect: (reason: string) => void
}

/** A node to track: its name, and how to open a connection of our own to it. */
interface Node {
  name: string
  connect: () => Redis
}

/** One node's tracking connection, confirmed once tracking and the subscription are both on. */
class NodeTracker {
  confirmed = false
  /** Monotonic ms at which the last answered ping was sent. */
  pongSentAt = -Infinity
  #pingSentAt: number | null = null

  constructor (
    readonly name: string,
    private readonly connection: Redis,
    private readonly prefixes: string[],
    private readonly listener: InvalidationListener
  ) {
    connection.on('ready', () => {
      this.setUp().catch((err: Error) => {
        this.lost('tracking refused')
        // Said on every attempt: a Redis that forbids CLIENT TRACKING (a managed
        // service, an ACL) leaves the cache off for good, which the operator must know.
        listener.refused(`${this.name}: ${err.message}`)
      })
    })
    for (const event of ['close', 'end', 'reconnecting']) connection.on(event, () => this.lost(event))
    connection.on('error', () => {}) // reported through close/reconnecting
    connection.on('messageBuffer', (_channel: Buffer, keys: Buffer[] | null) => {
      if (keys === null) listener.flushed('FLUSHDB or FLUSHALL')
      else listener.invalidated(keys.map(String))
    })
  }

  private async setUp (): Promise<void> {
    const id = await this.connection.client('ID')
    await this.connection.client('TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', ...this.prefixes.flatMap((prefix) => ['PREFIX', prefix]))
    await this.connection.subscribe(CHANNEL)
    this.#pingSentAt = null
    this.confirmed = true
    // What changed on this node before it was tracked went unheard: start clean.
    this.listener.tracked(`${this.name} tracking`)
    this.ping()
  }

  /**
   * Pings, unless a ping is still unanswered: then, once it has waited
   * `stuckMs`, the connection is taken as stuck and opened anew.
   */
  ping (stuckMs = Infinity): void {
    if (!this.confirmed) return
    const now = performance.now()
    if (this.#pingSentAt !== null) {
      if (now - this.#pingSentAt < stuckMs) return
      this.lost('heartbeat unanswered')
      this.listener.suspect(`${this.name}: heartbeat unanswered`)
      this.connection.disconnect(true)
      return
    }
    this.#pingSentAt = now
    this.connection.ping().then(() => {
      if (this.#pingSentAt !== now) return // a lost connection's late answer
      this.#pingSentAt = null
      this.pongSentAt = now
    }, () => {})
  }

  lost (reason: string): void {
    this.confirmed = false
    this.#pingSentAt = null
    this.pongSentAt = -Infinity
    // Flush even if never confirmed: nothing stale may survive a doubt.
    this.listener.flushed(`${this.name}: ${reason}`)
  }

  close (): void {
    for (const event of ['close', 'end', 'reconnecting']) this.connection.removeAllListeners(event)
    this.connection.disconnect()
  }
}

export interface InvalidationOptions {
  /** The tracked key prefixes, with the client's own ioredis keyPrefix if it has one. */
  prefixes: string[]
  /** How long a confirmed ping vouches for the cache. */
  leaseMs: number
  /** How long a ping may go unanswered before its connection is opened anew. */
  heartbeatMs: number
}

/**
 * Tells the session cache which keys changed, on every Redis node (every
 * master and replica of a Cluster or of a Sentinel set-up, following topology
 * changes), and whether its copies may still be used (the lease).
 */
export class InvalidationListener {
  private readonly trackers = new Map<string, NodeTracker>()
  private pinger: NodeJS.Timeout | null = null
  private sentinelWatch: AbortController | null = null
  private wasReady = false
  private closed = false

  constructor (
    private readonly redis: Redis | Cluster,
    private readonly options: InvalidationOptions,
    private readonly handlers: InvalidationHandlers
  ) {}

  /** Opens the tracking connections; until they are confirmed, not ready. */
  start (): void {
    if (this.pinger !== null || this.closed) return
    if (this.redis instanceof Cluster) {
      for (const event of ['ready', 'refresh', '+node', '-node']) this.redis.on(event, this.followCluster)
      this.followCluster()
    } else if (sentinelsOf(this.redis) !== null) {
      this.sentinelWatch = new AbortController()
      void this.followSentinels(this.redis, this.sentinelWatch.signal)
    } else {
      const redis = this.redis
      this.follow([{ name: nodeName(redis), connect: () => redis.duplicate(this.trackerOptions) }], 'topology')
    }
    const interval = Math.max(1, Math.floor(this.options.leaseMs / 4))
    this.pinger = setInterval(() => { for (const tracker of this.trackers.values()) tracker.ping(this.options.heartbeatMs) }, interval).unref()
  }

  /** Our own connections: as CLIENT LIST shows them, which app's cache they keep. */
  private get trackerOptions () {
    return { ...TRACKER_OPTIONS, connectionName: `mpa-invalidations:${this.options.prefixes[0] ?? ''}`.replace(/[^!-~]/g, '_') }
  }

  /** Every node tracked and confirmed. */
  get ready (): boolean {
    if (this.trackers.size === 0) return false
    for (const tracker of this.trackers.values()) if (!tracker.confirmed) return false
    return true
  }

  /**
   * Until when (monotonic ms) the cache may answer: the lease after the
   * oldest ping of the nodes whose answer was read; 0 while any node is not
   * tracked.
   */
  freshUntil (): number {
    if (!this.ready) return 0
    let oldest = Infinity
    for (const tracker of this.trackers.values()) oldest = Math.min(oldest, tracker.pongSentAt)
    return oldest + this.options.leaseMs
  }

  invalidated (keys: string[]): void {
    this.handlers.invalidate(keys)
  }

  flushed (reason: string): void {
    this.handlers.flush()
    this.changed(reason)
  }

  suspect (reason: string): void {
    if (!this.closed) this.handlers.suspect(reason)
  }

  /** A node refused tracking: the cache stays off. */
  refused (reason: string): void {
    if (!this.closed) this.handlers.readiness(false, reason)
  }

  /** A node's tracking was confirmed: forget everything (in flight too), then maybe ready. */
  tracked (reason: string): void {
    this.handlers.flush()
    this.changed(reason)
  }

  private changed (reason: string): void {
    const ready = this.ready
    if (ready !== this.wasReady && !this.closed) {
      this.wasReady = ready
      this.handlers.readiness(ready, reason)
    }
  }

  close (): void {
    this.closed = true
    if (this.pinger !== null) clearInterval(this.pinger)
    this.sentinelWatch?.abort()
    if (this.redis instanceof Cluster) {
      for (const event of ['ready', 'refresh', '+node', '-node']) this.redis.off(event, this.followCluster)
    }
    for (const tracker of this.trackers.values()) tracker.close()
    this.trackers.clear()
    this.handlers.flush()
  }

  /**
   * One tracker per node; nodes that left are dropped, new ones tracked.
   * Replicas too: Redis sends invalidations only for the writes a node
   * executes as a master, so a replica is silent until a failover promotes
   * it, and from that moment its writes reach every instance at once.
   * Tracking it only once an instance noticed the new topology would leave a
   * window in which one instance revokes on the new master while another
   * still hears only the old one.
   */
  private follow (nodes: Node[], reason: string): void {
    if (this.closed) return
    const current = new Map(nodes.map((node) => [node.name, node]))
    for (const [name, tracker] of this.trackers) {
      if (current.has(name)) continue
      // A node that left: what changed on the node that took its place before
      // it was tracked went unheard.
      tracker.close()
      this.trackers.delete(name)
      this.handlers.flush()
    }
    for (const [name, node] of current) {
      if (!this.trackers.has(name)) this.trackers.set(name, new NodeTracker(name, node.connect(), this.options.prefixes, this))
    }
    this.changed(reason)
  }

  private readonly followCluster = (): void => {
    const cluster = this.redis as Cluster
    this.follow(cluster.nodes('all').map((node) => ({ name: nodeName(node), connect: () => node.duplicate(this.trackerOptions) })), 'topology')
  }

  /** Asks the sentinels for the master and its replicas at every heartbeat, and tracks each. */
  private async followSentinels (redis: Redis, signal: AbortSignal): Promise<void> {
    const sentinels = sentinelsOf(redis)!
    const masterName = (redis.options as { name?: string }).name ?? 'mymaster'
    const { sentinelUsername, sentinelPassword } = redis.options as { sentinelUsername?: string, sentinelPassword?: string }
    const clients = sentinels.map(({ host, port }) => new Redis({
      host: host ?? '127.0.0.1', port: port ?? 26379, username: sentinelUsername, password: sentinelPassword, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 1000
    }))
    for (const client of clients) client.on('error', () => {})
    try {
      while (!signal.aborted) {
        const nodes = await this.sentinelNodes(clients, masterName)
        // None answered: keep tracking what was known (a sentinel outage is not a Redis one).
        if (nodes !== null) {
          this.follow(nodes.map((address) => ({ name: address, connect: () => directConnection(redis, address, this.trackerOptions) })), 'sentinel topology')
        }
        await sleep(this.options.heartbeatMs, undefined, { signal }).catch(() => {})
      }
    } finally {
      for (const client of clients) client.disconnect()
    }
  }

  private async sentinelNodes (clients: Redis[], masterName: string): Promise<string[] | null> {
    for (const client of clients) {
      try {
        if (client.status === 'wait') await client.connect()
        const [host, port] = await client.call('SENTINEL', 'get-master-addr-by-name', masterName) as [string, string]
        const replicas = await client.call('SENTINEL', 'replicas', masterName) as string[][]
        return [`${host}:${port}`, ...replicas.map(flatFields).filter((fields) => !/\b(s_down|o_down|disconnected)\b/.test(fields.flags ?? '')).map((fields) => `${fields.ip}:${fields.port}`)]
      } catch {}
    }
    return null
  }
}

/** Our own connections: invalidations arrive as pub/sub messages (RESP2), which ioredis surfaces. */
const TRACKER_OPTIONS = {
  protocol: 2,
  autoResubscribe: false, // tracking must be switched on before subscribing, on every connect
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  lazyConnect: false,
  keyPrefix: ''
} as const

/** A connection of our own straight to one node of a Sentinel set-up. */
function directConnection (redis: Redis, address: string, options: object): Redis {
  const at = address.lastIndexOf(':')
  return redis.duplicate({ ...options, sentinels: null, name: undefined, host: address.slice(0, at), port: Number(address.slice(at + 1)) } as never)
}

/** SENTINEL's flat [field, value, …] replies as an object. */
function flatFields (flat: string[]): Record<string, string> {
  const fields: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!
  return fields
}
