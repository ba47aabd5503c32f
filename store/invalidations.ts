import { Cluster, type Redis } from 'ioredis'

// Redis server-assisted client-side caching, over RESP2 (ioredis does not
// surface RESP3 invalidation pushes): per Redis node, one connection of our
// own asks for CLIENT TRACKING in broadcast mode on the session keys'
// prefix, redirected to itself, and subscribes to the invalidation channel.
// Redis then tells it of every write, deletion, expiry or eviction of a
// session key, by any client.
const CHANNEL = '__redis__:invalidate'

export interface InvalidationHandlers {
  /** Keys that changed, prefix included. */
  invalidate: (keys: string[]) => void
  /** Anything may have changed: a lost connection, or FLUSHDB. */
  flush: () => void
  /** The listener became ready, or stopped being ready. */
  readiness: (ready: boolean, reason: string) => void
}

/** A wait for the invalidation of keys this instance is about to write. */
export interface Acknowledgement {
  /** True once Redis has sent every one of `keys` to this instance's listener; false past `timeoutMs` or when it cannot tell. */
  wait: (keys: string[], timeoutMs: number) => Promise<boolean>
}

interface Waiter {
  remaining: Set<string>
  done: (seen: boolean) => void
}

/** One node's tracking connection, confirmed once tracking and the subscription are both on. */
class NodeTracker {
  confirmed = false
  private pinging = false

  constructor (
    readonly name: string,
    private readonly connection: Redis,
    private readonly prefix: string,
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
      if (keys === null) listener.flushed('FLUSHDB or FLUSHALL', true)
      else listener.invalidated(keys.map(String))
    })
  }

  private async setUp (): Promise<void> {
    const id = await this.connection.client('ID')
    await this.connection.client('TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', 'PREFIX', this.prefix)
    await this.connection.subscribe(CHANNEL)
    this.pinging = false
    this.confirmed = true
    // What changed on this node before it was tracked went unheard: start clean.
    this.listener.tracked(`${this.name} tracking`)
  }

  /** A heartbeat: a ping still unanswered since the last beat means the connection is stuck. */
  beat (): void {
    if (!this.confirmed) return
    if (this.pinging) {
      this.lost('heartbeat unanswered')
      this.connection.disconnect(true)
      return
    }
    this.pinging = true
    this.connection.ping().then(() => { this.pinging = false }, () => {})
  }

  lost (reason: string): void {
    this.confirmed = false
    // Flush even if never confirmed: nothing stale may survive a doubt.
    this.listener.flushed(`${this.name}: ${reason}`, false)
  }

  close (): void {
    this.connection.removeAllListeners('close')
    this.connection.removeAllListeners('end')
    this.connection.removeAllListeners('reconnecting')
    this.connection.disconnect()
  }
}

/**
 * Tells the session cache which keys changed, on every Redis node (every
 * master and replica of a Cluster, following topology changes). Ready only while every
 * node's tracking connection is confirmed and answers its heartbeat: until
 * then the cache is neither read nor filled.
 */
export class InvalidationListener {
  private readonly trackers = new Map<string, NodeTracker>()
  private readonly waiters = new Map<string, Set<Waiter>>()
  private heartbeat: NodeJS.Timeout | null = null
  private wasReady = false
  private closed = false

  constructor (
    private readonly redis: Redis | Cluster,
    /** The tracked key prefix, with the client's own ioredis keyPrefix if it has one. */
    private readonly prefix: string,
    private readonly heartbeatMs: number,
    private readonly handlers: InvalidationHandlers
  ) {}

  /** Opens the tracking connections; until then, and until they are confirmed, not ready. */
  start (): void {
    if (this.heartbeat !== null || this.closed) return
    if (this.redis instanceof Cluster) {
      for (const event of ['ready', 'refresh', '+node', '-node']) this.redis.on(event, this.followTopology)
    }
    this.followTopology()
    this.heartbeat = setInterval(() => { for (const tracker of this.trackers.values()) tracker.beat() }, this.heartbeatMs).unref()
  }

  get ready (): boolean {
    if (this.trackers.size === 0) return false
    for (const tracker of this.trackers.values()) if (!tracker.confirmed) return false
    return true
  }

  /** Call before the write: then `wait` for the keys it actually changed. */
  expect (keys: string[]): Acknowledgement {
    if (!this.ready) return { wait: async () => false }
    const waiter: Waiter = { remaining: new Set(keys), done: () => {} }
    const settled = new Promise<boolean>((resolve) => { waiter.done = resolve })
    for (const key of keys) {
      const set = this.waiters.get(key) ?? new Set()
      set.add(waiter)
      this.waiters.set(key, set)
    }
    return {
      wait: async (changed, timeoutMs) => {
        const changedSet = new Set(changed)
        for (const key of keys) if (!changedSet.has(key)) this.settle(waiter, key)
        const timer = setTimeout(() => this.release(waiter, false), timeoutMs)
        let seen: boolean
        try {
          seen = await settled
        } finally {
          clearTimeout(timer)
        }
        // Redis wrote the same message to every tracking connection at once:
        // let this process read the copies it already has (another instance
        // in this process, as in tests) before the revoking reply goes out.
        if (seen) await new Promise(setImmediate)
        return seen
      }
    }
  }

  invalidated (keys: string[]): void {
    this.handlers.invalidate(keys)
    for (const key of keys) for (const waiter of this.waiters.get(key) ?? []) this.settle(waiter, key)
  }

  /** `seen`: the flush itself invalidated every key (FLUSHDB); a lost connection cannot tell. */
  flushed (reason: string, seen: boolean): void {
    this.handlers.flush()
    for (const set of this.waiters.values()) for (const waiter of set) this.release(waiter, seen)
    this.changed(reason)
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

  changed (reason: string): void {
    const ready = this.ready
    if (ready !== this.wasReady && !this.closed) {
      this.wasReady = ready
      this.handlers.readiness(ready, reason)
    }
  }

  close (): void {
    this.closed = true
    if (this.heartbeat !== null) clearInterval(this.heartbeat)
    if (this.redis instanceof Cluster) {
      for (const event of ['ready', 'refresh', '+node', '-node']) this.redis.off(event, this.followTopology)
    }
    for (const tracker of this.trackers.values()) tracker.close()
    this.trackers.clear()
    this.handlers.flush()
  }

  private settle (waiter: Waiter, key: string): void {
    waiter.remaining.delete(key)
    this.waiters.get(key)?.delete(waiter)
    if (this.waiters.get(key)?.size === 0) this.waiters.delete(key)
    if (waiter.remaining.size === 0) waiter.done(true)
  }

  private release (waiter: Waiter, seen: boolean): void {
    for (const key of waiter.remaining) {
      this.waiters.get(key)?.delete(waiter)
      if (this.waiters.get(key)?.size === 0) this.waiters.delete(key)
    }
    waiter.remaining.clear()
    waiter.done(seen)
  }

  /**
   * One tracker per Redis node, a Cluster's replicas included: Redis sends
   * invalidations only for the writes a node executes as a master, so a
   * replica is silent until a failover promotes it, and from that moment its
   * writes reach every instance at once. Tracking it only once an instance
   * noticed the new topology would leave a window in which one instance
   * revokes on the new master while another still hears only the old one.
   * Nodes that left are dropped, new ones tracked.
   */
  private readonly followTopology = (): void => {
    if (this.closed) return
    const nodes: Redis[] = this.redis instanceof Cluster ? this.redis.nodes('all') : [this.redis]
    const current = new Map(nodes.map((node) => [`${node.options.host ?? 'localhost'}:${node.options.port ?? 6379}`, node]))
    for (const [name, tracker] of this.trackers) {
      if (current.has(name)) continue
      // A node that left: its slots moved, and what changed on their new
      // node before it was tracked went unheard.
      tracker.close()
      this.trackers.delete(name)
      this.handlers.flush()
    }
    for (const [name, node] of current) {
      if (this.trackers.has(name)) continue
      const connection = node.duplicate({
        protocol: 2, // invalidations then arrive as pub/sub messages, which ioredis surfaces
        autoResubscribe: false, // tracking must be switched on before subscribing, on every connect
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        lazyConnect: false,
        keyPrefix: '',
        // As CLIENT LIST shows it: which app's cache this connection keeps.
        connectionName: `mpa-invalidations:${this.prefix}`.replace(/[^!-~]/g, '_')
      })
      this.trackers.set(name, new NodeTracker(name, connection, this.prefix, this))
    }
    this.changed('topology')
  }
}
