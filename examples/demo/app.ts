// The demo server (npm start): the plugin for every platform on the local
// sandboxes or real credentials, two protected routes, OpenAPI docs, and the
// simulator page with its loopback-only endpoints. One job, the demo's
// wiring; the platforms are in platforms.ts, the simulator's endpoints in
// simulator.ts, its users in users.ts, Redis discovery in redis.ts.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import fastifyStatic from '@fastify/static'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import miniprogramAuth, { defaultResolveUser, errorReplies, type ResolveUser } from '../../index.js'
import { closeUpstreams, pluck, startUpstreams, type Mode, type PlatformName, type Upstreams } from './platforms.js'
import { DemoExit, connectRedis, type RedisChoice } from './redis.js'
import { simulatorRoutes } from './simulator.js'

export { DemoExit } from './redis.js'
export { isLoopback } from './simulator.js'
export { PLATFORMS, type PlatformName } from './platforms.js'

export interface DemoOptions {
  /** Default 3000; 0 for any free port. */
  port?: number
  /** Default '127.0.0.1'. Whatever it is, the simulator endpoints (/demo/*) mint login codes, so they answer only loopback addresses. */
  host?: string
  redis?: RedisChoice
  /** Default 'mpa-demo:'. */
  keyPrefix?: string
  /** Short, so "replay an old code" shows both answers within a minute. Default '10s'. */
  codeReplayWindow?: string
  /** Where real credentials come from (see README); without them, the sandboxes. Default {}. */
  env?: Record<string, string | undefined>
  logger?: FastifyServerOptions['logger']
}

export interface Demo {
  app: FastifyInstance
  url: string
  /** Which Redis, in words. */
  redisDescription: string
  modes: Record<PlatformName, Mode>
  /** The sandboxes standing in for the platforms without credentials. */
  sandboxes: { [P in PlatformName]?: Upstreams[P]['sandbox'] }
  close: () => Promise<void>
}

/** The package's version, for the API document. */
function packageVersion (root: string): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
}

/** The project root: the nearest folder with a package.json, from the sources or from dist/. */
export function projectRoot (from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new DemoExit(`No package.json in ${from} or any folder above it: run the demo from inside the fastify-miniprogram-auth project.`)
    dir = parent
  }
  return dir
}

/**
 * The client helper's modules (index.js and the files it imports) as browser
 * ES modules, by path under /client/: under dist/ (npm start), the compiled
 * ones next to us; from the sources (tests), transpiled on the fly by esbuild
 * (what runs the sources anyway: tools/ts-loader), only then needed.
 */
async function clientModules (): Promise<Map<string, string>> {
  const compiled = new URL('../../client/', import.meta.url)
  const modules = new Map<string, string>()
  if (existsSync(new URL('index.js', compiled))) {
    for (const path of readdirSync(compiled, { recursive: true, encoding: 'utf8' }).filter((path) => path.endsWith('.js'))) {
      modules.set(path, readFileSync(new URL(path, compiled), 'utf8').replace(/^\/\/# sourceMappingURL=.*$/m, ''))
    }
    return modules
  }
  const { transform } = await import('esbuild')
  const sources = new URL('../../client/', import.meta.url)
  await Promise.all(readdirSync(sources, { recursive: true, encoding: 'utf8' }).filter((path) => path.endsWith('.ts') && !path.startsWith('dist')).map(async (path) => {
    const { code } = await transform(readFileSync(new URL(path, sources), 'utf8'), { loader: 'ts', format: 'esm', target: 'es2022' })
    modules.set(path.replace(/\.ts$/, '.js'), code)
  }))
  return modules
}

/** One paragraph for a setup problem a person can fix; undefined for a bug (its stack trace is useful). */
export function setupProblem (err: unknown, port: number, host: string): string | undefined {
  if (err instanceof DemoExit) return err.message
  switch ((err as { code?: string } | null)?.code) {
    case 'EADDRINUSE': return `Port ${port} on ${host} is taken by another program: start the demo on another one, e.g. PORT=3001 npm start.`
    case 'EADDRNOTAVAIL': return `HOST ${host} is not an address of this machine: unset HOST, or give one of its addresses.`
    case 'ENOTFOUND': return `HOST ${host} is not a name the DNS knows: unset HOST (the demo then listens on 127.0.0.1), or give an IP address of this machine.`
    case 'EAI_AGAIN': return `HOST ${host} could not be looked up (the DNS did not answer): try again, or give an IP address instead of a name, e.g. HOST=127.0.0.1.`
    case 'EACCES': return `Port ${port} needs privileges this user does not have (ports below 1024 usually do): use a higher one, e.g. PORT=3000 npm start.`
    default: return undefined
  }
}

interface Order {
  id: number
  item: string
  quantity: number
  createdAt: number
}

const OrderSchema = Type.Object({
  id: Type.Integer(),
  item: Type.String(),
  quantity: Type.Integer(),
  createdAt: Type.Number({ description: 'Epoch ms.' })
})

/** The application's own routes, protected by fastify.authenticate. */
const demoRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Per user, in memory: the demo's stand-in for a database.
  const orders = new Map<string, Order[]>()
  let nextOrderId = 1

  app.get('/api/profile', {
    preHandler: app.authenticate,
    schema: {
      summary: 'The logged-in user, as the application sees it',
      tags: ['demo'],
      response: {
        200: Type.Object({
          user: Type.Object({ id: Type.Union([Type.String(), Type.Number()]), nickName: Type.Optional(Type.String()) }),
          provider: Type.String(),
          appId: Type.String(),
          orders: Type.Integer({ description: 'How many orders this user placed.' })
        }),
        ...errorReplies(401, 503)
      }
    }
  }, async (request) => ({
    user: request.user,
    provider: request.session.provider,
    appId: request.session.appId,
    orders: orders.get(String(request.user.id))?.length ?? 0
  }))

  app.post('/api/orders', {
    preHandler: app.authenticate,
    schema: {
      summary: 'Place an order as the logged-in user',
      tags: ['demo'],
      body: Type.Object({
        item: Type.String({ minLength: 1, maxLength: 100 }),
        quantity: Type.Integer({ minimum: 1, maximum: 99, default: 1 })
      }),
      response: { 201: OrderSchema, ...errorReplies(400, 401, 503) }
    }
  }, async (request, reply) => {
    const order: Order = { id: nextOrderId++, item: request.body.item, quantity: request.body.quantity, createdAt: Date.now() }
    const mine = orders.get(String(request.user.id)) ?? []
    mine.push(order)
    orders.set(String(request.user.id), mine)
    return reply.code(201).send(order)
  })
}

// The demo keeps the Alipay nickname (auth_user) with the user, so the page can greet them.
const resolveUser: ResolveUser = async (identity, request) => {
  const user = await defaultResolveUser(identity, request)
  const nickName = identity.profile?.nickName
  return typeof nickName === 'string' ? { ...user, nickName } : user
}

export async function startDemo (options: DemoOptions = {}): Promise<Demo> {
  const root = projectRoot()
  const client = await clientModules()
  const connection = await connectRedis(options.redis)
  const upstreams = await startUpstreams(options.env ?? {}).catch(async (err: unknown) => {
    await connection.close()
    throw err
  })

  const codeReplayWindow = options.codeReplayWindow ?? '10s'
  const app = Fastify({ logger: options.logger ?? false })
  try {
    // Swagger first: it collects the routes registered after it.
    await app.register(fastifySwagger, {
      openapi: {
        info: {
          title: 'fastify-miniprogram-auth demo',
          version: packageVersion(root),
          description: 'Mini-program login (WeChat, Alipay, Douyin, QQ) with Redis skey sessions. Errors are `{ statusCode, code, error, message }`; the codes are listed in the README.'
        },
        components: { securitySchemes: { skey: { type: 'apiKey', in: 'header', name: 'x-skey', description: 'The skey of the login reply.' } } }
      },
      // Every route but the logins needs the skey.
      transform: ({ schema, url }) => ({ url, schema: url.endsWith('/login') ? schema : { ...schema, security: [{ skey: [] }] } })
    })
    await app.register(fastifySwaggerUi, { routePrefix: '/docs' })

    await app.register(miniprogramAuth, {
      redis: connection.redis,
      keyPrefix: options.keyPrefix ?? 'mpa-demo:',
      codeReplayWindow,
      resolveUser,
      ...pluck(upstreams, 'app'),
      // The "PC website" pane: scan login from the WeChat phone, and the browser's cookie session.
      // The demo is plain http on this machine: cookies without Secure, so without the __Host- prefix.
      web: { cookie: { secure: false, name: 'mpa_session', browserName: 'mpa_browser' } },
      scanLogin: true,
      webview: true
    })
    await app.register(demoRoutes)

    await app.register(async (scope) => simulatorRoutes(scope, upstreams, codeReplayWindow))
    app.get<{ Params: { '*': string } }>('/client/*', { schema: { hide: true } }, async (request, reply) => {
      const module = client.get(request.params['*'])
      return module === undefined ? reply.callNotFound() : reply.type('text/javascript; charset=utf-8').send(module)
    })
    // The QR reader the pages use to read the PC pane's code (the sandbox draws the scene as a QR code).
    const jsqr = readFileSync(createRequire(import.meta.url).resolve('jsqr'), 'utf8')
    app.get('/vendor/jsqr.js', { schema: { hide: true } }, async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(jsqr))
    await app.register(fastifyStatic, { root: join(root, 'examples', 'demo', 'public') })

    await app.listen({ port: options.port ?? 3000, host: options.host ?? '127.0.0.1' })
  } catch (err) {
    await app.close()
    await Promise.all([closeUpstreams(upstreams), connection.close()])
    throw err
  }

  const { port } = app.server.address() as { port: number }
  const host = options.host ?? '127.0.0.1'
  return {
    app,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    redisDescription: connection.description,
    modes: pluck(upstreams, 'mode'),
    sandboxes: pluck(upstreams, 'sandbox'),
    close: async () => {
      await app.close()
      await Promise.all([closeUpstreams(upstreams), connection.close()])
    }
  }
}
