import { spawn, type ChildProcess } from 'node:child_process'
import { basename } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { LoadOptions } from './load.js'
import type { ChildMessage, ServerOptions } from './systems.js'

// The orchestrator's side of the child processes: every server, load worker
// and probe runs in a Node process of its own (TypeScript through tsx), talks
// over IPC, and is stopped (then killed, if it must be) before the run ends.

const live = new Set<ChildProcess>()

/** A bench file started as `node --import tsx <file>`, its argument as JSON on stdin (bench/argument.ts). */
export class Child {
  readonly #process: ChildProcess
  readonly #name: string
  readonly #exited: Promise<number | null>
  readonly #messages: ChildMessage[] = []
  readonly #waiters = new Set<() => void>()

  constructor (file: string, argument: unknown, nodeArgs: string[] = []) {
    const path = fileURLToPath(new URL(file, import.meta.url))
    this.#name = basename(path)
    this.#process = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path], {
      stdio: ['pipe', 'inherit', 'inherit', 'ipc']
    })
    this.#process.stdin!.end(JSON.stringify(argument))
    live.add(this.#process)
    this.#exited = new Promise((resolve) => this.#process.once('exit', (code) => {
      live.delete(this.#process)
      resolve(code)
      this.#wake()
    }))
    this.#process.on('message', (message: ChildMessage) => {
      this.#messages.push(message)
      this.#wake()
    })
  }

  send (message: object): void {
    this.#process.send(message)
  }

  /** The next message of a type (kept in order), or an error if the child exits first. */
  async next<T extends ChildMessage['type']> (type: T): Promise<Extract<ChildMessage, { type: T }>> {
    for (;;) {
      const index = this.#messages.findIndex((message) => message.type === type)
      if (index >= 0) return this.#messages.splice(index, 1)[0] as Extract<ChildMessage, { type: T }>
      if (this.#process.exitCode !== null || this.#process.signalCode !== null) {
        throw new Error(`${this.#name} exited (${this.#process.exitCode ?? this.#process.signalCode}) before sending '${type}'`)
      }
      await new Promise<void>((resolve) => this.#waiters.add(resolve))
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop (graceMs = 5000): Promise<void> {
    if (this.#process.exitCode === null && this.#process.signalCode === null) this.#process.kill('SIGTERM')
    const timer = setTimeout(() => this.#process.kill('SIGKILL'), graceMs)
    await this.#exited
    clearTimeout(timer)
  }

  #wake (): void {
    for (const wake of this.#waiters) wake()
    this.#waiters.clear()
  }
}

/** A bench server (bench/server.ts) of one system, listening on loopback. */
export class Server extends Child {
  url = ''
  /** Every app's URL, when the process runs several (ServerOptions.apps). */
  urls: string[] = []

  static async start (options: ServerOptions, nodeArgs: string[] = []): Promise<Server> {
    const server = new Server('./server.ts', options, nodeArgs)
    const ready = await server.next('ready')
    server.url = ready.url
    server.urls = ready.urls
    return server
  }

  /** The server's process.hrtime (µs), process.cpuUsage() and session reads (countReads) now. */
  async mark (name: string): Promise<{ us: number, cpu: { user: number, system: number }, reads: number, roundTrips: number, gcMs: { young: number, old: number } }> {
    this.send({ type: 'mark', name })
    return this.next('mark')
  }

  /** The headers a client sends to be the user `name` (a new session, or token, each call). */
  async login (name: string): Promise<Record<string, string>> {
    const response = await fetch(`${this.url}/bench/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name })
    })
    if (!response.ok) throw new Error(`POST /bench/login: ${response.status} ${await response.text()}`)
    return ((await response.json()) as { headers: Record<string, string> }).headers
  }

  /** GET /me as each of `users` users (at least one), for a load worker whose connections each cycle through them all. */
  async meRequests (users: number, name: (i: number) => string): Promise<LoadOptions['requests']> {
    const requests: LoadOptions['requests'] = []
    for (let i = 0; i < Math.max(1, users); i++) requests.push({ path: '/me', headers: await this.login(name(i)) })
    return requests
  }
}

/** Runs a worker file (load.ts, probe.ts) to completion and returns the result it sent. */
export async function runWorker<T> (file: string, argument: unknown): Promise<T> {
  const worker = new Child(file, argument)
  try {
    return (await worker.next('result')).result as T
  } finally {
    await worker.stop()
  }
}

/** Kills whatever is still running: for an orchestrator that fails or is interrupted. */
export function killAll (): void {
  for (const child of live) child.kill('SIGKILL')
}
