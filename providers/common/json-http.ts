import { Pool } from 'undici'
import { UpstreamError, UpstreamTimeoutError } from '../../errors.js'

// The HTTP side every platform that answers JSON shares (WeChat, QQ, Douyin):
// one undici pool per base URL, a deadline on each call, replies parsed as JSON
// objects, and transport failures as our 502/504. What a reply means is left
// to the platform's provider.

export type JsonReply = Record<string, unknown>

/** Where an app's calls go, and how long one may take. */
export interface HttpTarget {
  origin: string
  pathPrefix: string
  timeoutMs: number
}

export interface JsonCall {
  method: 'GET' | 'POST'
  query?: Record<string, string>
  /** A JSON body. */
  body?: Record<string, unknown>
  /** A form body (application/x-www-form-urlencoded), for the platforms that take one (Baidu, Kuaishou). */
  form?: Record<string, string>
  /** More request headers (Douyin's access-token). */
  headers?: Record<string, string>
  /**
   * The call answers a picture when it succeeds (wxacode): an image/* body is
   * then the reply `{ image, contentType }` (bytes, up to 1 MiB); an error
   * is still JSON.
   */
  image?: boolean
}

const MAX_RESPONSE_BYTES = 64 * 1024
// A wxacode is a PNG of up to 1280 px square: well under this.
const MAX_IMAGE_BYTES = 1024 * 1024
// Platform messages go into errors: long enough to explain, too short to carry a payload.
const MAX_MESSAGE_LENGTH = 200

export class JsonHttp<Config extends HttpTarget> {
  readonly apps: Array<Config & { pool: Pool }>
  private readonly pools: Pool[]

  constructor (configs: Config[]) {
    // One pool per base URL, with the connect timeout of its most impatient app.
    const pools = new Map<string, Pool>()
    for (const { origin } of configs) {
      if (pools.has(origin)) continue
      const connectMs = Math.min(...configs.filter((c) => c.origin === origin).map((c) => c.timeoutMs))
      // Bodies are bounded per call (readBounded); the pool only bounds the largest kind.
      pools.set(origin, new Pool(origin, { connect: { timeout: connectMs }, maxResponseSize: MAX_IMAGE_BYTES, keepAliveTimeout: 10_000 }))
    }
    this.pools = [...pools.values()]
    this.apps = configs.map((config) => ({ ...config, pool: pools.get(config.origin)! }))
  }

  /** One HTTP exchange: the parsed JSON object with its status, or a 502/504 (a 5xx status is a 502). */
  async fetchJson (app: Config & { pool: Pool }, endpoint: string, call: JsonCall): Promise<{ status: number, reply: JsonReply }> {
    const query = call.query ? `?${new URLSearchParams(call.query)}` : ''
    const content = contentOf(call)
    let status: number
    let contentType: string
    let bytes: Buffer | null
    try {
      const response = await app.pool.request({
        method: call.method,
        path: `${app.pathPrefix}/${endpoint}${query}`,
        headers: { ...content.headers, ...call.headers },
        body: content.body,
        headersTimeout: app.timeoutMs,
        bodyTimeout: app.timeoutMs,
        // Also bounds a body that trickles in just under bodyTimeout per chunk.
        signal: AbortSignal.timeout(app.timeoutMs)
      })
      status = response.statusCode
      contentType = String(response.headers['content-type'] ?? '')
      const image = call.image === true && contentType.startsWith('image/')
      bytes = await readBounded(response.body, image ? MAX_IMAGE_BYTES : MAX_RESPONSE_BYTES)
    } catch (err) {
      // Only the error code: undici messages are harmless today, but the cause stays out of replies and logs.
      const { code, name } = err as { code?: string, name?: string }
      if (name === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        throw new UpstreamTimeoutError(`${endpoint} after ${app.timeoutMs} ms`)
      }
      throw new UpstreamError(`${endpoint}: ${code ?? name ?? 'network error'}`)
    }
    if (status >= 500) throw new UpstreamError(`${endpoint} answered HTTP ${status}`)
    if (bytes === null) throw new UpstreamError(`${endpoint} answered a body too large`)
    if (call.image === true && contentType.startsWith('image/') && status >= 200 && status <= 299) return { status, reply: { image: bytes, contentType } }
    let reply: unknown
    try {
      // By content: WeChat has served JSON as text/plain.
      reply = JSON.parse(bytes.toString('utf8'))
    } catch {
      reply = null
    }
    if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) {
      throw new UpstreamError(`${endpoint} answered HTTP ${status} with a body that is not a JSON object`)
    }
    return { status, reply: reply as JsonReply }
  }

  async close (): Promise<void> {
    await Promise.all(this.pools.map((pool) => pool.close()))
  }
}

/** The body, or null past `limit` bytes (the rest is not read). */
async function readBounded (body: AsyncIterable<Buffer> & { destroy: () => unknown }, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > limit) {
      body.destroy()
      return null
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/** The request body of a call, and its content type. */
function contentOf ({ body, form }: JsonCall): { body: string | null, headers: Record<string, string> } {
  if (body) return { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
  if (form) return { body: new URLSearchParams(form).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } }
  return { body: null, headers: {} }
}

/** A non-empty string field of a reply, or a 502 naming it. */
export function stringField (reply: JsonReply, field: string, endpoint: string): string {
  const value = reply[field]
  if (typeof value !== 'string' || value === '') throw new UpstreamError(`${endpoint} answered without ${field}`)
  return value
}

// AES-128: base64 of 16 bytes.
const SESSION_KEY = /^[A-Za-z0-9+/]{22}==$/

/**
 * The session_key of a login reply. One that cannot be an AES-128 key would
 * make every later decryption fail as if it had rotated, and the client log
 * in again and again: the platform's fault, said at once.
 */
export function sessionKeyField (reply: JsonReply, endpoint: string): string {
  const value = stringField(reply, 'session_key', endpoint)
  if (!SESSION_KEY.test(value)) throw new UpstreamError(`${endpoint} answered a session_key that is not an AES-128 key`)
  return value
}

/** A platform's error message, fit for an error: `secrets` (which platforms echo) scrubbed, then cut short. */
export function upstreamMessage (message: unknown, secrets: string[]): string {
  // Scrubbed before it is cut short: a secret cut in two would survive in part.
  let text = typeof message === 'string' ? message : ''
  for (const secret of secrets) text = text.replaceAll(secret, '[redacted]')
  return text.slice(0, MAX_MESSAGE_LENGTH)
}
