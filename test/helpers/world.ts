import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { Test } from 'tap'
import { buildApp, LogCapture, TEST_SECRET_KEYS, type TestAppOptions } from './app.js'
import { testRedis, type Teardown } from './redis.js'
import { assertNoSecrets } from './secrets.js'

export interface Reply {
  statusCode: number
  body: string
  json: Record<string, any>
}

const SKEY_IN_REPLY = /"skey":"([A-Za-z0-9_-]{43})"/g

/**
 * A test's world: the shared Redis under a prefix of its own (its keys
 * deleted at the end), apps built by `buildApp` that log at trace level into
 * one capture and record every reply they send, closed at the end, and the
 * secrets that must never show in either. The provider worlds (WeChat,
 * Alipay, both platforms) add their sandboxes.
 */
export class World {
  readonly logs = new LogCapture()
  readonly replies: string[] = []
  readonly redis: Redis
  readonly prefix: string
  private readonly captures: LogCapture[] = [this.logs]
  private readonly sources: Array<() => string[]> = []
  private prefixes = 0

  /** `t` owns the cleanup: register what must outlive the world (a sandbox) before this. */
  constructor (private readonly t: Teardown, name: string) {
    const { redis, prefix } = testRedis(t, name)
    this.redis = redis
    this.prefix = prefix
    // The apps' secret keys, in the forms an app's configuration could hold them.
    this.watch(() => TEST_SECRET_KEYS.flatMap(({ key }) => [key.toString('base64'), key.toString('hex')]))
  }

  /** An app on the world's Redis, prefix and captures, closed when the world ends. Options override. */
  async build (options: TestAppOptions = {}, addRoutes?: (app: FastifyInstance) => void): Promise<FastifyInstance> {
    const app = await buildApp(this.redis, { keyPrefix: this.prefix, logs: this.logs, replies: this.replies, ...options }, addRoutes)
    this.t.teardown(() => app.close())
    return app
  }

  /** A prefix of its own under the world's (its keys go with the world's), for an app that must not share the others' keys. */
  subPrefix (name = 'app'): string {
    return `${this.prefix}${name}-${++this.prefixes}:`
  }

  /** Another log capture, for a test that reads its own lines; the leak check reads it too. */
  capture (): LogCapture {
    const capture = new LogCapture()
    this.captures.push(capture)
    return capture
  }

  /** Adds secrets that must never show: a sandbox's `secrets`, an app private key's texts. Read at check time. */
  watch (secrets: () => string[]): void {
    this.sources.push(secrets)
  }

  async call (app: FastifyInstance, method: 'GET' | 'POST' | 'DELETE', url: string, body?: object, skey?: string): Promise<Reply> {
    const response = await app.inject({ method, url, ...(body ? { payload: body } : {}), headers: skey ? { 'x-skey': skey } : {} })
    return { statusCode: response.statusCode, body: response.body, json: response.body ? response.json() : {} }
  }

  post (app: FastifyInstance, url: string, body: object, skey?: string): Promise<Reply> {
    return this.call(app, 'POST', url, body, skey)
  }

  /** Every skey the apps handed out in a reply. */
  skeys (): string[] {
    return [...new Set(this.replies.flatMap((reply) => [...reply.matchAll(SKEY_IN_REPLY)].map((match) => match[1]!)))]
  }

  /** No watched secret (nor `extra`) in any reply or log line, no skey in any log line. */
  assertNoSecrets (t: Test, extra: string[] = []): void {
    assertNoSecrets(t, {
      secrets: [...this.sources.flatMap((secrets) => secrets()), ...extra],
      skeys: this.skeys(),
      logs: this.captures,
      replies: this.replies
    })
  }
}
