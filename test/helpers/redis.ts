import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A client of the shared test Redis. */
export function sharedRedis (): Redis {
  return new Redis(REDIS_URL)
}

/** A key prefix no other test uses, so test files can run in parallel. */
export function uniquePrefix (name: string): string {
  return `mpa-test:${name}:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`
}

export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

/** A free port whose cluster bus port (port + 10000) is free too. */
export async function freeClusterPort (): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 20000)
    if (await isFree(port) && await isFree(port + 10000)) return port
  }
}

async function isFree (port: number): Promise<boolean> {
  const server = createServer()
  return new Promise((resolve) => {
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** A private redis-server this test can kill and restart. */
export class RedisProcess {
  private child: ChildProcess | null = null
  constructor (readonly port: number, private readonly extraArgs: string[] = []) {}

  async start (): Promise<void> {
    this.child = spawn('redis-server', [
      '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...this.extraArgs
    ], { stdio: 'ignore' })
    const probe = new Redis({ port: this.port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
    probe.on('error', () => {}) // refused until the server listens: expected
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        await probe.connect()
        await probe.ping()
        probe.disconnect()
        return
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    probe.disconnect()
    throw new Error(`redis-server did not start on port ${this.port}`)
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing is answered. */
  pause (): void {
    this.child?.kill('SIGSTOP')
  }

  /** Lets a paused server go on: it then runs what it received meanwhile. */
  resume (): void {
    this.child?.kill('SIGCONT')
  }

  async stop (): Promise<void> {
    const child = this.child
    if (!child || child.exitCode !== null) return
    this.child = null
    child.kill('SIGKILL')
    await once(child, 'exit')
  }
}
