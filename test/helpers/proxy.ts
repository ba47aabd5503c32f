import { createServer, connect, type Server, type Socket } from 'node:net'
import { once } from 'node:events'

interface Pipe {
  client: Socket
  upstream: Socket
  /** The client asked for CLIENT TRACKING on this connection: it carries invalidations. */
  tracking: boolean
  frozen: boolean
}

/**
 * A TCP proxy in front of Redis that can freeze the connections that carry
 * invalidations (those that sent CLIENT TRACKING): they stay open, nothing
 * passes, as on a stuck network path. Data connections are untouched.
 */
export class FreezableProxy {
  private readonly pipes = new Set<Pipe>()
  private readonly server: Server
  private frozenTracking = false
  port = 0

  constructor (private readonly target: { host: string, port: number }) {
    this.server = createServer((client) => this.accept(client))
  }

  async start (): Promise<void> {
    this.server.listen(0, '127.0.0.1')
    await once(this.server, 'listening')
    this.port = (this.server.address() as { port: number }).port
  }

  /** From now on, the invalidation connections (current and new) pass nothing. */
  freezeTracking (): void {
    this.frozenTracking = true
    for (const pipe of this.pipes) if (pipe.tracking) this.freeze(pipe)
  }

  /** Ends the freeze: the frozen connections are cut (what they held is lost), so their clients connect anew. */
  thawTracking (): void {
    this.frozenTracking = false
    for (const pipe of this.pipes) {
      if (!pipe.frozen) continue
      pipe.client.destroy()
      pipe.upstream.destroy()
    }
  }

  async close (): Promise<void> {
    for (const pipe of this.pipes) {
      pipe.client.destroy()
      pipe.upstream.destroy()
    }
    this.server.close()
    await once(this.server, 'close')
  }

  private accept (client: Socket): void {
    const upstream = connect(this.target.port, this.target.host)
    const pipe: Pipe = { client, upstream, tracking: false, frozen: false }
    this.pipes.add(pipe)
    client.on('data', (chunk: Buffer) => {
      if (!pipe.tracking && /TRACKING/i.test(chunk.toString('latin1'))) {
        pipe.tracking = true
        if (this.frozenTracking) this.freeze(pipe)
      }
      if (!pipe.frozen) upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => { if (!pipe.frozen) client.write(chunk) })
    const end = () => {
      client.destroy()
      upstream.destroy()
      this.pipes.delete(pipe)
    }
    for (const socket of [client, upstream]) {
      socket.on('error', end)
      socket.on('close', end)
    }
  }

  private freeze (pipe: Pipe): void {
    pipe.frozen = true
  }
}
