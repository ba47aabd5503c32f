import { createHash } from 'node:crypto'
import { Cluster, type Redis } from 'ioredis'
import { StoreUnavailableError } from '../errors.js'
import { publishStoreTimeout, storeTraced, traceStore } from '../lib/diagnostics.js'
import { Circuit, type CircuitLog } from './circuit.js'
import { counted } from '../lib/our-errors.js'
import { isReadOnlyError, sentinelsOf } from './redis-nodes.js'

// Client states of a lost connection: a command would wait in ioredis's
// offline queue and run when Redis is back, long after we answered 503.
// (A client still connecting for the first time is given its chance.)
const LOST_STATUS = new Set(['reconnecting', 'close', 'end', 'disconnecting'])
// How often the deadlines of work in flight are checked: a late answer is
// abandoned within this much of its deadline.
const SWEEP_MS = 25
// While the circuit is open, how often Redis is asked whether it is back.
const PROBE_MS = 250

interface InFlight {
  deadline: number
  /** Work that writes nothing: it may be answered before its deadline. */
  readOnly: boolean
  reject: (err: Error) => void
}

/** A Lua script registered on the client: its keys, then its arguments; `command` is its name there. */
export type Script = ((...keysThenArgs: string[]) => Promise<unknown>) & { command: string }

/**
 * The one door to Redis: every store module sends its commands through it, so
 * each gets the key prefix, the deadline, the lost-connection guard and a
 * trace span.
 */
export class RedisGateway {
  // In start order, which is deadline order: every call has the same timeout.
  readonly #inFlight = new Set<InFlight>()
  #sweeper: NodeJS.Timeout | null = null
  readonly #circuit: Circuit
  #probing = false
  /** The sockets held corked until the end of this event-loop turn (none: not held). */
  #held: Array<Redis['stream']> = []
  readonly #release = (): void => {
    for (const stream of this.#held) stream.uncork()
    this.#held = []
  }

  readonly #scripts = new Map<string, { numberOfKeys: number, lua: string }>()

  constructor (
    readonly redis: Redis | Cluster,
    readonly keyPrefix: string,
    /** Longest wait for Redis before a 503. */
    readonly timeoutMs: number,
    log: CircuitLog = { info: () => {}, warn: () => {} }
  ) {
    this.#circuit = new Circuit(log)
  }

  /**
   * A sign that Redis may be frozen (a heartbeat went unanswered): one PING
   * within a fifth of the store timeout decides, rather than waiting for
   * requests to time out one after another.
   */
  suspect (reason: string): void {
    if (this.#circuit.open || this.#probing) return
    this.#probing = true
    void this.#ping(Math.max(50, this.timeoutMs / 5)).then((answered) => {
      this.#probing = false
      if (answered) this.#circuit.succeeded()
      else this.#open(`${reason}, and a PING went unanswered`)
    })
  }

  /** A Redis key under the prefix. */
  key (...parts: string[]): string {
    return this.keyPrefix + parts.join(':')
  }

  /**
   * A Lua script, registered once on the client (as @fastify/rate-limit
   * does): ioredis sends its SHA (EVALSHA), and its source only when Redis
   * does not know it yet. Named by its source's hash, so two versions of this
   * package on one client never share a name.
   */
  script (name: string, numberOfKeys: number, lua: string): Script {
    const command = `mpa${name}_${createHash('sha1').update(lua).digest('hex').slice(0, 8)}`
    this.#scripts.set(command, { numberOfKeys, lua })
    this.defineScripts(this.redis)
    const run = (...keysThenArgs: string[]) => (this.redis as unknown as Record<string, (...args: string[]) => Promise<unknown>>)[command]!(...keysThenArgs)
    return Object.assign(run, { command })
  }

  /** Registers every script on `connection` (the client, or a connection of ours beside it). */
  defineScripts (connection: Redis | Cluster): void {
    const commands = connection as unknown as Record<string, unknown>
    for (const [command, definition] of this.#scripts) {
      if (typeof commands[command] !== 'function') connection.defineCommand(command, definition)
    }
  }

  /**
   * Runs Redis work with a deadline: a Redis that is down or slow becomes a 503
   * within the store timeout instead of a hanging request. A client that lost
   * its connection gets no command at all: ioredis would queue it and send it
   * when Redis is back, long after we answered. (Work of several steps goes
   * on past its deadline: what the store does in several steps reads, or
   * prunes index entries already dead.) One shared timer checks every
   * deadline, not one timer a call.
   */
  run<T> (operation: string, work: (redis: Redis | Cluster) => Promise<T>, { readOnly = false } = {}): Promise<T> {
    // A client reconnecting to a lost Redis opens the circuit too: said once, then counted, until a probe is answered.
    if (!this.#circuit.open && this.redis.status === 'reconnecting') this.#open('the connection to Redis was lost')
    if (this.#circuit.open) {
      this.#circuit.refused()
      return Promise.reject(counted(new StoreUnavailableError()))
    }
    if (LOST_STATUS.has(this.redis.status)) return Promise.reject(new StoreUnavailableError())
    return storeTraced() ? traceStore(operation, () => this.#deadline(work, readOnly)) : this.#deadline(work, readOnly)
  }

  #open (reason: string): void {
    this.#circuit.trip(reason)
    this.#opened()
  }

  /**
   * The circuit has just opened: the reads still waiting for Redis are
   * answered now, as refused, rather than each at its own deadline; then the
   * probes. Work that writes waits for its deadline: what it sent may still
   * run when Redis goes on, and its scripts refuse to write only past that
   * deadline, so a 503 before it could be a write that lands.
   */
  #opened (): void {
    for (const call of this.#inFlight) {
      if (!call.readOnly) continue
      this.#circuit.refused()
      call.reject(counted(new StoreUnavailableError()))
      this.#inFlight.delete(call)
    }
    void this.#probe()
  }

  /** While open: a PING every PROBE_MS, until one is answered in time. */
  async #probe (): Promise<void> {
    while (this.#circuit.open) {
      if (await this.#ping(PROBE_MS)) this.#circuit.succeeded()
      else await new Promise((resolve) => setTimeout(resolve, PROBE_MS).unref())
    }
  }

  /** Whether Redis answers a PING within `ms`. */
  async #ping (ms: number): Promise<boolean> {
    if (LOST_STATUS.has(this.redis.status)) return false
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms) })
    try {
      const node = this.redis instanceof Cluster ? this.redis.nodes('master')[0] : this.redis
      return await Promise.race([node ? node.ping().then(() => true, () => false) : Promise.resolve(false), late])
    } finally {
      clearTimeout(timer)
    }
  }

  #deadline<T> (work: (redis: Redis | Cluster) => Promise<T>, readOnly: boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call: InFlight = { deadline: Date.now() + this.timeoutMs, readOnly, reject }
      this.#inFlight.add(call)
      this.#sweeper ??= setInterval(() => this.#sweep(), Math.min(SWEEP_MS, this.timeoutMs)).unref()
      let running: Promise<T>
      try {
        this.#coalesce()
        running = work(this.redis)
      } catch (err) {
        running = Promise.reject(err)
      }
      running.then(
        (value) => {
          if (!this.#inFlight.delete(call)) return
          this.#circuit.succeeded()
          resolve(value)
        },
        // The late failure of abandoned work is of no use: it was answered already.
        (err: unknown) => {
          this.#followFailover(err)
          if (this.#inFlight.delete(call)) reject(storeErrorOf(err))
        }
      )
    })
  }

  /**
   * Commands sent in one turn of the event loop leave in one socket write per
   * node, as node-redis sends every command: the sockets stay corked until the
   * turn's I/O callbacks have run (setImmediate). Under load the reads of
   * every request a turn parsed share one loopback send, which costs about as
   * much as the rest of a cache miss; a login's last step is one write of four
   * commands.
   */
  #coalesce (): void {
    if (this.#held.length > 0) return
    const redis = this.redis
    this.#held = redis instanceof Cluster ? readyStreamsOf(redis) : redis.status === 'ready' ? [redis.stream] : []
    if (this.#held.length === 0) return
    for (const stream of this.#held) stream.cork()
    setImmediate(this.#release)
  }

  /**
   * ioredis checks a Sentinel master's role only as it connects: a client
   * that connected to a restarted old master before Sentinel made it a
   * replica stays there, and every write answers READONLY until something
   * reconnects it (ioredis's own advice is `reconnectOnError`). We do: the
   * reconnection asks the sentinels for the master again. (The app's client;
   * our own writers reconnect on it by themselves, store/durable-writes.ts.)
   */
  #followFailover (err: unknown): void {
    const redis = this.redis
    if (isReadOnlyError(err) && !(redis instanceof Cluster) && redis.status === 'ready' && sentinelsOf(redis) !== null) redis.disconnect(true)
  }

  #sweep (): void {
    const now = Date.now()
    for (const call of this.#inFlight) {
      if (call.deadline > now) break
      this.#inFlight.delete(call)
      publishStoreTimeout(this.timeoutMs)
      call.reject(new StoreUnavailableError())
      if (this.#circuit.timedOut()) this.#opened()
    }
    if (this.#inFlight.size === 0 && this.#sweeper !== null) {
      clearInterval(this.#sweeper)
      this.#sweeper = null
    }
  }
}

/** Errors of our own (already with a status) pass; Redis errors become 503. */
function storeErrorOf (err: unknown): Error {
  if (typeof (err as { statusCode?: unknown }).statusCode === 'number') return err as Error
  return new StoreUnavailableError({ cause: err })
}

/** The sockets of a Cluster's connected nodes (a node still connecting has none to hold). */
function readyStreamsOf (cluster: Cluster): Array<Redis['stream']> {
  return cluster.nodes('all').filter((node) => node.status === 'ready').map((node) => node.stream)
}
