import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

// The plumbing both sandboxes share: an HTTP server, a bounded request body, a
// fault queue, delays that close() cancels, call counts, and the secrets
// handed out (for leak checks). What a platform answers lives in its sandbox.

/** Request bodies beyond this get a 413: a login call is a few hundred bytes. */
export const MAX_BODY_BYTES = 64 * 1024

/** What every fault can say, whatever else its platform adds. */
export interface SandboxFault {
  /** Wait this long before answering. */
  delayMs?: number
  /** Then hold the answer until this settles: a test releases it at the moment it chooses. */
  until?: Promise<unknown>
  /** How many requests the fault applies to. Default 1; Infinity for all. */
  times?: number
}

/** The faults of a platform that answers JSON over HTTP. */
export interface JsonSandboxFault extends SandboxFault {
  /** Answer with a truncated, unparseable body. */
  malformed?: boolean
  /** Answer with this HTTP status and an HTML body, as a failing gateway does. */
  httpStatus?: number
}

/** What every sandbox of a platform with AppIDs and AppSecrets is created with. */
export interface SandboxOptions {
  /** appId → appSecret of the apps the platform knows. */
  apps?: Record<string, string>
  /** Default 0 (any free port). */
  port?: number
  /** Default '127.0.0.1'. */
  host?: string
  /** The clock, in epoch ms, for code expiry, lifetimes and watermarks. Default Date.now. */
  now?: () => number
}

/** What every sandbox offers, whichever platform it plays. */
export interface Sandbox<Target extends string, Fault extends SandboxFault> {
  /** The address to configure as the platform's (IPv6 hosts in brackets). */
  readonly url: string
  /** Requests received for `target` (faults included); all requests when absent. */
  calls: (target?: Target) => number
  /** Makes the next `times` requests to `target` ('*' for any) fail as described. */
  fail: (target: Target | '*', fault: Fault) => void
  clearFaults: () => void
  /** Every secret it has handed out, for leak checks. */
  secrets: () => string[]
  /** Stops listening: pending delayed answers are cancelled, keep-alive sockets closed. */
  close: () => Promise<void>
}

export interface SandboxRequest {
  /** The HTTP method. */
  method: string
  url: URL
  /** The body as UTF-8 text, at most MAX_BODY_BYTES. */
  body: string
  /** The request headers, names in lower case (Douyin's access-token). */
  headers: IncomingHttpHeaders
}

export interface SandboxReply {
  /** Default 200. */
  status?: number
  headers?: Record<string, string>
  /** Text, or bytes (an image). */
  body: string | Buffer
}

export type SandboxHandler = (request: SandboxRequest) => SandboxReply | Promise<SandboxReply>

export const NOT_FOUND: SandboxReply = { status: 404, headers: { 'content-type': 'text/plain' }, body: 'not found' }

/** A JSON answer; a `malformed` fault cuts it in half. */
export function jsonReply (body: Record<string, unknown>, fault: JsonSandboxFault | undefined, contentType = 'application/json; charset=utf-8'): SandboxReply {
  const payload = JSON.stringify(body)
  return {
    headers: { 'content-type': contentType },
    body: fault?.malformed ? payload.slice(0, Math.ceil(payload.length / 2)) : payload
  }
}

/** An HTML page, as a failing gateway or a busy page serves. */
export function htmlReply (status: number, inner: string): SandboxReply {
  return { status, headers: { 'content-type': 'text/html;charset=utf-8' }, body: `<html>${inner}</html>` }
}

/** Thrown into a handler waiting on delay() when the sandbox closes: nothing is answered. */
class SandboxClosed extends Error {}

interface PendingDelay {
  timer?: NodeJS.Timeout
  cancel: () => void
}

/** One sandbox's HTTP server and bookkeeping; its handler says what the platform answers. */
export class SandboxServer<Target extends string, Fault extends SandboxFault> {
  url = ''
  private readonly faults = new Map<string, Array<Fault & { times: number }>>()
  private readonly counts = new Map<string, number>()
  private readonly issued = new Set<string>()
  private readonly delays = new Set<PendingDelay>()
  private readonly inFlight = new Set<Promise<void>>()
  private closing: Promise<void> | undefined
  private server: Server | undefined

  /**
   * `name` starts its error messages; `targets`, when given, are the only
   * ones fail() accepts (besides '*').
   */
  constructor (private readonly name: string, private readonly targets?: readonly Target[]) {}

  /** Serves `handler` on host:port (default 127.0.0.1, any free port) and returns the URL. */
  async listen (handler: SandboxHandler, host = '127.0.0.1', port = 0): Promise<string> {
    const server = createServer((req, res) => {
      const work: Promise<void> = this.serve(handler, req, res).finally(() => this.inFlight.delete(work))
      this.inFlight.add(work)
    })
    this.server = server
    server.listen(port, host)
    await once(server, 'listening')
    const { address, port: bound } = server.address() as AddressInfo
    this.url = `http://${address.includes(':') ? `[${address}]` : address}:${bound}`
    return this.url
  }

  count (target: string): void {
    this.counts.set(target, (this.counts.get(target) ?? 0) + 1)
  }

  calls (target?: string): number {
    if (target !== undefined) return this.counts.get(target) ?? 0
    let total = 0
    for (const count of this.counts.values()) total += count
    return total
  }

  fail (target: Target | '*', fault: Fault): void {
    if (this.targets && target !== '*' && !this.targets.includes(target)) {
      throw new Error(`${this.name}: no endpoint ${JSON.stringify(target)}`)
    }
    const queue = this.faults.get(target) ?? []
    queue.push({ ...fault, times: fault.times ?? 1 })
    this.faults.set(target, queue)
  }

  /** The fault for this request, if any: one queued for `target` first, then one for '*'. */
  takeFault (target: string): Fault | undefined {
    for (const key of [target, '*']) {
      const queue = this.faults.get(key)
      const fault = queue?.[0]
      if (queue && fault) {
        if (--fault.times <= 0) queue.shift()
        return fault
      }
    }
    return undefined
  }

  clearFaults (): void {
    this.faults.clear()
  }

  /**
   * Waits as a fault says (`delayMs`, then `until`), or not at all without
   * one; close() cancels the wait, and the request is then never answered.
   */
  async held (fault: SandboxFault | undefined): Promise<void> {
    if (fault?.delayMs) await this.wait((done) => setTimeout(done, fault.delayMs))
    if (fault?.until) await this.wait((done) => { fault.until!.then(done, done) })
  }

  private wait (start: (done: () => void) => NodeJS.Timeout | void): Promise<void> {
    if (this.closing) return Promise.reject(new SandboxClosed())
    return new Promise((resolve, reject) => {
      const pending: PendingDelay = {
        cancel: () => reject(new SandboxClosed())
      }
      const timer = start(() => {
        if (!this.delays.delete(pending)) return // cancelled by close()
        resolve()
      })
      if (timer) pending.timer = timer
      this.delays.add(pending)
    })
  }

  /** Notes a secret for secrets(), and returns it. */
  remember<T extends string> (secret: T): T {
    this.issued.add(secret)
    return secret
  }

  secrets (): string[] {
    return [...this.issued]
  }

  close (): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  /**
   * The Sandbox members, bound, for a sandbox to spread into its own object;
   * `known` adds the secrets it was configured with (the apps' secrets).
   */
  face (known: () => string[] = () => []): Sandbox<Target, Fault> {
    return {
      url: this.url,
      calls: (target) => this.calls(target),
      fail: (target, fault) => this.fail(target, fault),
      clearFaults: () => this.clearFaults(),
      secrets: () => [...known(), ...this.secrets()],
      close: () => this.close()
    }
  }

  /**
   * The answer to a request that `fault` may hit: a failing gateway's HTML
   * page in its place, else `work()`, done now, before any wait (as on the
   * platform: a caller that gives up waiting has still spent its code); then
   * the fault's wait.
   */
  async answer (fault: (Fault & JsonSandboxFault) | undefined, work: () => SandboxReply): Promise<SandboxReply> {
    const reply = fault?.httpStatus ? htmlReply(fault.httpStatus, `<body>${fault.httpStatus}</body>`) : work()
    await this.held(fault)
    return reply
  }

  private async shutdown (): Promise<void> {
    for (const pending of this.delays) {
      if (pending.timer) clearTimeout(pending.timer)
      pending.cancel()
    }
    this.delays.clear()
    const server = this.server
    if (!server?.listening) return
    const closed = once(server, 'close')
    server.close()
    server.closeAllConnections()
    await Promise.allSettled([...this.inFlight])
    await closed
  }

  private async serve (handler: SandboxHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const body = await readBody(req)
      const reply = body === undefined
        ? { status: 413, headers: { 'content-type': 'text/plain' }, body: `${this.name}: request body over ${MAX_BODY_BYTES} bytes` }
        : await handler({ method: req.method ?? 'GET', url: new URL(req.url ?? '/', 'http://sandbox'), body, headers: req.headers })
      if (this.closing || res.destroyed) return
      res.writeHead(reply.status ?? 200, reply.headers).end(reply.body)
    } catch (err) {
      if (this.closing || res.destroyed) return
      // A bug in the sandbox: say so rather than hang the client.
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
      res.end(`${this.name}: ${String(err)}`)
    }
  }
}

/**
 * The body as text, or undefined when it is over MAX_BODY_BYTES. The rest of
 * a large body is read and dropped, so the client gets the 413 rather than a
 * reset connection in the middle of its upload.
 */
async function readBody (req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size <= MAX_BODY_BYTES) chunks.push(chunk)
  }
  return size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8')
}
