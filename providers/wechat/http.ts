import type { FastifyBaseLogger } from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { UpstreamError, UpstreamTimeoutError } from '../../errors.js'
import { BUSY, errcodeError, errcodeOf, type WechatReply } from './errcodes.js'
import type { WechatAppConfig } from './options.js'

export interface WechatApp extends WechatAppConfig {
  pool: Pool
}

export interface WechatCall {
  method: 'GET' | 'POST'
  query?: Record<string, string>
  body?: Record<string, unknown>
  /** Values to scrub from anything WeChat echoes back into an error message. */
  secrets: string[]
}

const MAX_RESPONSE_BYTES = 64 * 1024

/** The HTTP side of WeChat: one undici pool per base URL, JSON replies, the busy retry and errcode errors. */
export class WechatHttp {
  readonly apps: WechatApp[]
  private readonly pools: Pool[]

  constructor (configs: WechatAppConfig[], private readonly log: FastifyBaseLogger) {
    // One pool per base URL, with the connect timeout of its most impatient app.
    const pools = new Map<string, Pool>()
    for (const { origin } of configs) {
      if (pools.has(origin)) continue
      const connectMs = Math.min(...configs.filter((c) => c.origin === origin).map((c) => c.timeoutMs))
      pools.set(origin, new Pool(origin, { connect: { timeout: connectMs }, maxResponseSize: MAX_RESPONSE_BYTES, keepAliveTimeout: 10_000 }))
    }
    this.pools = [...pools.values()]
    this.apps = configs.map((config) => ({ ...config, pool: pools.get(config.origin)! }))
  }

  /** A call with its errcode left to the caller; retries once, with jitter, when WeChat is busy. */
  async request (app: WechatApp, endpoint: string, call: WechatCall): Promise<WechatReply> {
    for (let attempt = 1; ; attempt++) {
      const { status, reply } = await this.fetchJson(app, endpoint, call)
      const errcode = errcodeOf(reply)
      if (errcode === BUSY && attempt === 1) {
        await sleep(50 + Math.random() * 150)
        continue
      }
      if ((status < 200 || status > 299) && errcode === 0) throw new UpstreamError(`${endpoint} answered HTTP ${status}`)
      return reply
    }
  }

  /** The longest `request` can take: two attempts and the jitter between them. */
  budgetMs (app: WechatApp): number {
    return app.timeoutMs * 2 + 200
  }

  /** The error for a reply with an errcode; what the operator must fix goes to the log. */
  fail (app: WechatApp, endpoint: string, reply: WechatReply, secrets: string[]): Error {
    const { error, errmsg, fix } = errcodeError(app.appId, endpoint, reply, secrets)
    if (fix) this.log.error({ appId: app.appId, endpoint, errcode: errcodeOf(reply), errmsg }, fix)
    return error
  }

  async close (): Promise<void> {
    await Promise.all(this.pools.map((pool) => pool.close()))
  }

  /** One HTTP exchange: the parsed JSON object, or a 502/504. */
  private async fetchJson (app: WechatApp, endpoint: string, call: WechatCall): Promise<{ status: number, reply: WechatReply }> {
    const query = call.query ? `?${new URLSearchParams(call.query)}` : ''
    let status: number
    let text: string
    try {
      const response = await app.pool.request({
        method: call.method,
        path: `${app.pathPrefix}/${endpoint}${query}`,
        headers: call.body ? { 'content-type': 'application/json' } : {},
        body: call.body ? JSON.stringify(call.body) : null,
        headersTimeout: app.timeoutMs,
        bodyTimeout: app.timeoutMs,
        // Also bounds a body that trickles in just under bodyTimeout per chunk.
        signal: AbortSignal.timeout(app.timeoutMs)
      })
      status = response.statusCode
      text = await response.body.text()
    } catch (err) {
      // Only the error code: undici messages are harmless today, but the cause stays out of replies and logs.
      const { code, name } = err as { code?: string, name?: string }
      if (name === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        throw new UpstreamTimeoutError(`${endpoint} after ${app.timeoutMs} ms`)
      }
      throw new UpstreamError(`${endpoint}: ${code ?? name ?? 'network error'}`)
    }
    if (status >= 500) throw new UpstreamError(`${endpoint} answered HTTP ${status}`)
    let reply: unknown
    try {
      // By content: WeChat has served JSON as text/plain.
      reply = JSON.parse(text)
    } catch {
      reply = null
    }
    if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) {
      throw new UpstreamError(`${endpoint} answered HTTP ${status} with a body that is not a JSON object`)
    }
    return { status, reply: reply as WechatReply }
  }
}

/** A non-empty string field of a reply, or a 502 naming it. */
export function stringField (reply: WechatReply, field: string, endpoint: string): string {
  const value = reply[field]
  if (typeof value !== 'string' || value === '') throw new UpstreamError(`${endpoint} answered without ${field}`)
  return value
}
