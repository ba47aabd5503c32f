import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { Writable } from 'node:stream'
import miniprogramAuth, { type MiniprogramAuthOptions, redactPaths } from '../../index.js'

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

/**
 * An app with the umbrella plugin and a protected route. It logs at trace
 * level with headers included, the worst case for leaking an skey.
 */
export async function buildApp (
  redis: Redis | Cluster,
  options: MiniprogramAuthOptions & { logs?: LogCapture, before?: (app: FastifyInstance) => Promise<void> } = {},
  addRoutes?: (app: FastifyInstance) => void
): Promise<FastifyInstance> {
  const { logs, before, ...pluginOptions } = options
  const logger: FastifyServerOptions['logger'] = logs
    ? {
        level: 'trace',
        stream: logs.stream,
        redact: redactPaths,
        serializers: { req: (req) => ({ method: req.method, url: req.url, headers: req.headers }) }
      }
    : false
  const app = Fastify({ logger })
  // Plugins and hooks of the app registered ahead of ours (an app-wide rate limit, a maintenance hook).
  await before?.(app)
  await app.register(miniprogramAuth, { redis, ...pluginOptions })
  // The session as is: its secrets are not enumerable, so they never show here.
  app.get('/me', { preHandler: app.authenticate }, async (request) => ({ user: request.user, session: request.session }))
  addRoutes?.(app)
  await app.ready()
  return app
}
