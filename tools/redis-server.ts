import { tmpdir } from 'node:os'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'

// A private redis-server of our own: the demo starts one when no Redis
// answers, tests start ones they can freeze, kill or cluster. Development
// tooling, built with the demo but left out of the published package.

/** Thrown by start() when the command is not on the PATH. */
export class RedisServerMissing extends Error {}

/** Null when Redis answers PING at the URL, else why not. */
export async function probeRedis (url: string): Promise<string | null> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1500, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => {}) // the failure is reported by connect() below
  try {
    await client.connect()
    await client.ping()
    return null
  } catch (err) {
    return (err as Error).message
  } finally {
    client.disconnect()
  }
}

/** A loopback port that was free a moment ago. */
export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

/** A redis-server on 127.0.0.1:port without persistence, that its owner can freeze, resume and kill. */
export class RedisProcess {
  private child: ChildProcess | null = null

  constructor (readonly port: number, private readonly extraArgs: string[] = [], private readonly command = 'redis-server') {}

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  /** Resolves once it answers PING; RedisServerMissing when the command is not found. */
  async start (): Promise<void> {
    const child = spawn(this.command, [
      '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      // A replica's full sync lands in a file even without persistence: not in the working folder.
      '--dir', tmpdir(), '--dbfilename', `mpa-redis-${this.port}.rdb`, ...this.extraArgs
    ], { stdio: 'ignore' })
    const spawned = await new Promise<boolean>((resolve) => {
      child.once('spawn', () => resolve(true))
      child.once('error', () => resolve(false)) // ENOENT: not on the PATH
    })
    if (!spawned) throw new RedisServerMissing(`${this.command} is not on the PATH`)
    this.child = child
    // Refused until it listens; an early exit (say, the port was taken) ends the wait.
    for (let attempt = 0; attempt < 100 && child.exitCode === null; attempt++) {
      if (await probeRedis(this.url) === null) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await this.stop()
    throw new Error(`${this.command} did not start answering on port ${this.port}`)
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing is answered. */
  pause (): void {
    this.child?.kill('SIGSTOP')
  }

  /** Lets a paused server go on: it then runs what it received meanwhile. */
  resume (): void {
    this.child?.kill('SIGCONT')
  }

  /** SIGKILL by default, as a crash; SIGTERM lets it shut down cleanly. */
  async stop (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child
    this.child = null
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    child.kill(signal)
    await once(child, 'exit')
  }
}
