// The demo server (npm start): the plugin for both platforms on the local
// sandboxes or real credentials, two protected routes, OpenAPI docs, and the
// simulator page's loopback-only endpoints. One job, the demo's wiring, which
// runs past the usual size; Redis discovery is in redis.ts, users in users.ts.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import fastifyStatic from '@fastify/static'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import miniprogramAuth, { defaultResolveUser, errorReplies, type AlipayAppOptions, type ResolveUser, type WechatAppOptions } from '../../index.js'
import { createAlipaySandbox, createWechatSandbox, generateRsaKeyPair, type AlipaySandbox, type WechatSandbox } from '../../sandbox/index.js'
import { DemoExit, connectRedis, type RedisChoice } from './redis.js'
import { ALIPAY_USERS, WECHAT_USERS, findUser } from './users.js'

export { DemoExit } from './redis.js'

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

export type Mode = 'sandbox' | 'real'

export interface Demo {
  app: FastifyInstance
  url: string
  /** Which Redis, in words. */
  redisDescription: string
  modes: { wechat: Mode, alipay: Mode }
  /** The sandboxes standing in for the platforms without credentials. */
  sandboxes: { wechat?: WechatSandbox, alipay?: AlipaySandbox }
  close: () => Promise<void>
}

const SANDBOX_WECHAT_APP = { appId: 'wxd0000000000demo1', appSecret: 'demo-sandbox-secret-0123456789abcdef' }
const SANDBOX_ALIPAY_APP_ID = '2021000000000demo'

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
 * The client helper as a browser ES module: under dist/ (npm start), the
 * compiled one next to us; from the sources (tests), transpiled on the fly,
 * so only then is the typescript devDependency needed.
 */
async function clientModule (): Promise<string> {
  const compiled = new URL('../../client/index.js', import.meta.url)
  if (existsSync(compiled)) return readFileSync(compiled, 'utf8').replace(/^\/\/# sourceMappingURL=.*$/m, '')
  const { default: ts } = await import('typescript')
  const source = readFileSync(new URL('../../client/index.ts', import.meta.url), 'utf8')
  return ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText
}

/** 127.0.0.0/8 and ::1, IPv4-mapped or not. */
export function isLoopback (address = ''): boolean {
  const ip = address.replace(/^::ffff:/i, '')
  return ip === '::1' || /^127\.\d+\.\d+\.\d+$/.test(ip)
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

interface Platforms {
  wechat: { mode: Mode, app: WechatAppOptions, sandbox?: WechatSandbox }
  alipay: { mode: Mode, app: AlipayAppOptions, sandbox?: AlipaySandbox }
}

/** Real credentials when the environment has them, else a sandbox for each platform. */
async function platforms (env: Record<string, string | undefined>): Promise<Platforms> {
  let wechat: Platforms['wechat']
  if (env.WECHAT_APP_ID && env.WECHAT_APP_SECRET) {
    wechat = { mode: 'real', app: { appId: env.WECHAT_APP_ID, appSecret: env.WECHAT_APP_SECRET } }
  } else {
    const sandbox = await createWechatSandbox({ apps: { [SANDBOX_WECHAT_APP.appId]: SANDBOX_WECHAT_APP.appSecret } })
    wechat = { mode: 'sandbox', app: { ...SANDBOX_WECHAT_APP, baseUrl: sandbox.url }, sandbox }
  }

  let alipay: Platforms['alipay']
  if (env.ALIPAY_APP_ID && env.ALIPAY_PRIVATE_KEY && env.ALIPAY_PUBLIC_KEY) {
    alipay = {
      mode: 'real',
      app: {
        appId: env.ALIPAY_APP_ID,
        privateKey: env.ALIPAY_PRIVATE_KEY,
        alipayPublicKey: env.ALIPAY_PUBLIC_KEY,
        ...(env.ALIPAY_GATEWAY ? { gateway: env.ALIPAY_GATEWAY } : {})
      }
    }
  } else {
    const appKeys = generateRsaKeyPair()
    const sandbox = await createAlipaySandbox({ apps: [{ appId: SANDBOX_ALIPAY_APP_ID, publicKey: appKeys.publicKey }] })
    alipay = {
      mode: 'sandbox',
      app: { appId: SANDBOX_ALIPAY_APP_ID, privateKey: appKeys.privateKey, alipayPublicKey: sandbox.publicKey, gateway: sandbox.url },
      sandbox
    }
  }
  return { wechat, alipay }
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

const UserKey = Type.Object({ user: Type.String({ maxLength: 32 }) })

/** An error Fastify answers with its status code and message: what the person at the page did wrong. */
const refusal = (statusCode: number, message: string) => Object.assign(new Error(message), { statusCode })

/**
 * What the phone does in the real world, played by the sandboxes for the
 * simulator page: wx.login, wx.getUserInfo, the getPhoneNumber button,
 * my.getAuthCode. Not part of the API, so not in the docs. Register it
 * encapsulated: its loopback-only hook must not reach the other routes.
 */
async function simulatorRoutes (app: FastifyInstance, { wechat, alipay }: Platforms, codeReplayWindow: string): Promise<void> {
  // Anyone who can reach these can log in as the demo users.
  app.addHook('onRequest', async (request) => {
    if (!isLoopback(request.socket.remoteAddress)) {
      throw refusal(403, 'The simulator answers only on the machine that runs the demo (it hands out login codes for the demo users): open the page there.')
    }
  })

  const hide = { hide: true }
  const unknownUser = (key: string) => refusal(404, `no sandbox user ${JSON.stringify(key)}`)
  const wechatUser = (key: string) => {
    const user = findUser(WECHAT_USERS, key)
    if (!user) throw unknownUser(key)
    return user
  }
  // The sandbox throws a plain Error (a 500) for what a person can simply do
  // in the wrong order or pick wrongly: check it here and say what to do.
  const codesIssued = new Set<string>()
  const wechatUserAfterLogin = (key: string) => {
    const user = wechatUser(key)
    if (!codesIssued.has(user.openId)) throw refusal(409, `Tap wx.login or Log in first: WeChat gives this only once ${user.profile?.nickName ?? key} has run wx.login.`)
    return user
  }

  app.get('/demo/config', { schema: hide }, async () => ({
    codeReplayWindow,
    wechat: { mode: wechat.mode, appId: wechat.app.appId, users: wechat.mode === 'sandbox' ? WECHAT_USERS.map(({ key, label }) => ({ key, label })) : [] },
    alipay: { mode: alipay.mode, appId: alipay.app.appId, users: alipay.mode === 'sandbox' ? ALIPAY_USERS.map(({ key, label }) => ({ key, label })) : [] }
  }))

  const { sandbox: wechatSandbox } = wechat
  if (wechatSandbox) {
    app.post<{ Body: { user: string } }>('/demo/wechat/code', { schema: { ...hide, body: UserKey } }, async (request) => {
      const user = wechatUser(request.body.user)
      const code = wechatSandbox.issueCode(user)
      codesIssued.add(user.openId)
      return { code }
    })
    app.post<{ Body: { user: string } }>('/demo/wechat/userinfo', { schema: { ...hide, body: UserKey } }, async (request) => {
      const { encryptedData, iv, rawData, signature } = wechatSandbox.userInfo(wechatUserAfterLogin(request.body.user).openId)
      return { encryptedData, iv, rawData, signature, userInfo: JSON.parse(rawData) }
    })
    app.post<{ Body: { user: string } }>('/demo/wechat/phone-code', { schema: { ...hide, body: UserKey } }, async (request) => {
      const user = wechatUser(request.body.user)
      if (!user.phone) throw refusal(400, `${user.profile?.nickName ?? request.body.user} has no phone number: pick another user to try "Get phone number".`)
      return { code: wechatSandbox.phoneCode(wechatUserAfterLogin(request.body.user).openId) }
    })
  }

  const { sandbox: alipaySandbox } = alipay
  if (alipaySandbox) {
    const body = Type.Object({ user: Type.String({ maxLength: 32 }), scope: Type.Union([Type.Literal('auth_base'), Type.Literal('auth_user')]) })
    app.post<{ Body: { user: string, scope: 'auth_base' | 'auth_user' } }>('/demo/alipay/auth-code', { schema: { ...hide, body } }, async (request) => {
      const user = findUser(ALIPAY_USERS, request.body.user)
      if (!user) throw unknownUser(request.body.user)
      return { authCode: alipaySandbox.issueAuthCode({ ...user, scope: request.body.scope }) }
    })
  }
}

// The demo keeps the Alipay nickname (auth_user) with the user, so the page can greet them.
const resolveUser: ResolveUser = async (identity, request) => {
  const user = await defaultResolveUser(identity, request)
  const nickName = identity.profile?.nickName
  return typeof nickName === 'string' ? { ...user, nickName } : user
}

export async function startDemo (options: DemoOptions = {}): Promise<Demo> {
  const root = projectRoot()
  const client = await clientModule()
  const connection = await connectRedis(options.redis)
  const upstreams = await platforms(options.env ?? {}).catch(async (err: unknown) => {
    await connection.close()
    throw err
  })
  const closeUpstreams = () => Promise.all([upstreams.wechat.sandbox?.close(), upstreams.alipay.sandbox?.close()])

  const codeReplayWindow = options.codeReplayWindow ?? '10s'
  const app = Fastify({ logger: options.logger ?? false })
  try {
    // Swagger first: it collects the routes registered after it.
    await app.register(fastifySwagger, {
      openapi: {
        info: {
          title: 'fastify-miniprogram-auth demo',
          version: '1.0.0',
          description: 'Mini-program login (WeChat, Alipay) with Redis skey sessions. Errors are `{ statusCode, code, error, message }`; the codes are listed in the README.'
        },
        components: { securitySchemes: { skey: { type: 'apiKey', in: 'header', name: 'x-skey', description: 'The skey of the login reply.' } } }
      },
      // Every route but the logins needs the skey.
      transform: ({ schema, url }) => ({ url, schema: url.endsWith('/login') ? schema : { ...schema, security: [{ skey: [] }] } as typeof schema })
    })
    await app.register(fastifySwaggerUi, { routePrefix: '/docs' })

    await app.register(miniprogramAuth, {
      redis: connection.redis,
      keyPrefix: options.keyPrefix ?? 'mpa-demo:',
      codeReplayWindow,
      resolveUser,
      wechat: upstreams.wechat.app,
      alipay: upstreams.alipay.app
    })
    await app.register(demoRoutes)

    await app.register(async (scope) => simulatorRoutes(scope, upstreams, codeReplayWindow))
    app.get('/client/index.js', { schema: { hide: true } }, async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(client))
    await app.register(fastifyStatic, { root: join(root, 'examples', 'demo', 'public') })

    await app.listen({ port: options.port ?? 3000, host: options.host ?? '127.0.0.1' })
  } catch (err) {
    await app.close()
    await Promise.all([closeUpstreams(), connection.close()])
    throw err
  }

  const { port } = app.server.address() as { port: number }
  const host = options.host ?? '127.0.0.1'
  return {
    app,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    redisDescription: connection.description,
    modes: { wechat: upstreams.wechat.mode, alipay: upstreams.alipay.mode },
    sandboxes: { wechat: upstreams.wechat.sandbox, alipay: upstreams.alipay.sandbox },
    close: async () => {
      await app.close()
      await Promise.all([closeUpstreams(), connection.close()])
    }
  }
}
