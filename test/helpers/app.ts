import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { randomBytes } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import { Writable } from 'node:stream'
import miniprogramAuth, { type MiniprogramAuthOptions, redactPaths, redactPathsFor } from '../../index.js'
import { kAuthentication } from '../../plugins/authenticate.js'

/** The keys apps under test seal their upstream secrets with (a secret like any other: the leak checks look for it). */
export const TEST_SECRET_KEYS = [{ id: 'test', key: randomBytes(32) }]

/** Every log line an app wrote, as text, for "no secret in any log line" checks. */
export class LogCapture {
  readonly lines: string[] = []
  readonly stream = new Writable({
    write: (chunk, _encoding, done) => {
      this.lines.push(String(chunk))
      done()
    }
  })

  get text (): string {
    return this.lines.join('')
  }
}

export interface TestAppOptions extends MiniprogramAuthOptions {
  /** Logs at trace level with headers included (the worst case for leaking an skey), into this capture. */
  logs?: LogCapture
  /** Every reply body the app sends, however the test reaches it (inject, HTTP), is pushed here. */
  replies?: string[]
  /** Plugins and hooks of the app registered ahead of ours (an app-wide rate limit, a maintenance hook). */
  before?: (app: FastifyInstance) => Promise<void>
  /** false: not the umbrella plugin; `before` registers the pieces the test composes itself. */
  umbrella?: false
  /** false: no GET /me; the test adds a protected route of its own in `addRoutes`. */
  me?: false
}

/**
 * The one way to build an app under test: Fastify, the app's own plugins
 * (`before`), the umbrella plugin on `redis` (undefined: the plugin's own
 * fallback, @fastify/redis), a protected GET /me, the test's routes, ready.
 * An app that fails to get ready is closed before the error is rethrown, so
 * registration failures are tested through here too.
 */
export async function buildApp (
  redis: Redis | Cluster | undefined,
  options: TestAppOptions = {},
  addRoutes?: (app: FastifyInstance) => void
): Promise<FastifyInstance> {
  const { logs, replies, before, umbrella, me, ...pluginOptions } = options
  // The README's logger setup: redactPathsFor(session.header) when the app moves the skey to another header.
  const header = pluginOptions.session?.header
  const logger: FastifyServerOptions['logger'] = logs
    ? {
        level: 'trace',
        stream: logs.stream,
        redact: header ? redactPathsFor(header) : redactPaths,
        serializers: { req: (req) => ({ method: req.method, url: req.url, headers: req.headers }) }
      }
    : false
  const app = Fastify({ logger })
  try {
    if (replies) {
      // Ahead of every plugin, so every route inherits it.
      app.addHook('onSend', async (_request, _reply, payload) => {
        if (typeof payload === 'string' || Buffer.isBuffer(payload)) replies.push(String(payload))
        return payload
      })
    }
    await before?.(app)
    // Sealed secrets, as in production; a test that wants them in clear passes `secretKeys: undefined`.
    if (umbrella !== false) await app.register(miniprogramAuth, { redis, secretKeys: TEST_SECRET_KEYS, ...pluginOptions })
    // The session as is: its secrets are not enumerable, so they never show here.
    // (Through the authentication's own handle, so a test that renames the decorators compiles too.)
    if (me !== false) {
      const { authenticate, sessionOf } = app[kAuthentication]
      app.get('/me', { preHandler: authenticate }, async (request) => ({ user: sessionOf(request).user, session: sessionOf(request) }))
    }
    addRoutes?.(app)
    await app.ready()
  } catch (err) {
    await app.close().catch(() => {})
    throw err
  }
  return app
}
