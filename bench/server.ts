// One bench server in a process of its own, parameterised by system:
//   node --import tsx bench/server.ts '{"system":"uncached","redisUrl":…,"keyPrefix":…}'
// Serves GET /me ({ user }, the same schema everywhere) and POST /bench/login
// ({ name } → { headers }: what a client sends to be that user). Tells its
// parent { type: 'ready', url } over IPC; stops on SIGTERM, SIGINT or when the
// parent goes away.
import Fastify, { type FastifyInstance, type FastifyPluginCallback, type FastifyRequest, type RouteShorthandOptions } from 'fastify'
import { randomBytes } from 'node:crypto'
import { Socket } from 'node:net'
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks'
import { Redis, type RedisOptions } from 'ioredis'
import { RedisStore } from 'connect-redis'
import { createClient } from 'redis'
import type { MiniprogramAuthOptions } from '../index.js'
import { userOf, type ChildMessage, type ServerOptions, type System } from './systems.js'
import { benchArgument } from './argument.js'

const options = benchArgument<ServerOptions>()

const meRoute: RouteShorthandOptions = {
  schema: {
    response: {
      200: {
        type: 'object',
        properties: { user: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } },
        required: ['user']
      }
    }
  }
}
const loginRoute: RouteShorthandOptions = {
  schema: { body: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } }
}
type LoginRequest = FastifyRequest<{ Body: { name: string } }>
type Headers = Record<string, string>

// The competitors' plugins come in untyped: their `declare module 'fastify'`
// would redeclare request.user and request.session for the whole project.
async function untypedPlugin (name: string): Promise<FastifyPluginCallback<Record<string, unknown>>> {
  const module = await import(name) as { default: FastifyPluginCallback<Record<string, unknown>> }
  return module.default
}

// The session cookie's default name without Secure (web.cookie.secure false).
const COOKIE = 'mpa_session'

/** Builds one system's routes on `app`; returns what to close on the way out. */
const builders: Record<System, (app: FastifyInstance) => Promise<Array<() => Promise<unknown>>>> = {
  async bare (app) {
    app.get('/me', meRoute, async () => ({ user: userOf('bench') }))
    // The same request as the library's (an skey-sized header, unread): the
    // ratios then count authentication, not the bytes of one header.
    app.post('/bench/login', loginRoute, async () => ({ headers: { 'x-skey': randomBytes(32).toString('base64url') } }))
    return []
  },

  cached: (app) => library(app, { cache: { max: options.cacheMax ?? 10000, ...(options.cacheLease ? { lease: options.cacheLease, heartbeat: options.cacheLease } : {}) } }),
  // The same, the skey in the browser's session cookie (web) instead of the header.
  'cached-cookie': (app) => library(app, { cache: { max: options.cacheMax ?? 10000 } }, {}, 'cookie'),
  // A cache of one entry and users in turn: every request misses, while the
  // cache's tracking knows the issued-before mark fresh (one GET per miss).
  miss: (app) => library(app, { cache: { max: 1 } }),
  // The same on an app client that batches the commands of one tick into one write.
  'miss-autopipelined': (app) => library(app, { cache: { max: 1 } }, { enableAutoPipelining: true }),
  uncached: (app) => library(app, { cache: false }),
  'naive-get': (app) => naive(app, 'get'),
  'naive-hash': (app) => naive(app, 'hash'),

  async jwt (app) {
    await app.register(await untypedPlugin('@fastify/jwt'), { secret: 'bench-secret-bench-secret-bench-secret' })
    const jwtApp = app as unknown as { jwt: { sign: (payload: object) => string } }
    type JwtRequest = FastifyRequest & { jwtVerify: () => Promise<{ id: string }> }
    app.get('/me', meRoute, async (request) => {
      const { id } = await (request as JwtRequest).jwtVerify()
      return { user: { id } }
    })
    app.post('/bench/login', loginRoute, async (request: LoginRequest) => {
      return { headers: { authorization: `Bearer ${jwtApp.jwt.sign(userOf(request.body.name))}` } }
    })
    return []
  },

  async session (app) {
    const client = createClient({ url: options.redisUrl })
    await client.connect()
    await app.register(await untypedPlugin('@fastify/cookie'))
    await app.register(await untypedPlugin('@fastify/session'), {
      secret: 'bench-secret-bench-secret-bench-secret',
      store: new RedisStore({ client, prefix: `${options.keyPrefix}sess:` }),
      // The plugin's defaults (rolling: true, so every answer saves the session)
      // but for plain HTTP on loopback and no session for anonymous requests.
      cookie: { secure: false, maxAge: 7 * 24 * 3600 * 1000 },
      saveUninitialized: false
    })
    interface SessionRequest {
      session: { get: (key: string) => unknown, set: (key: string, value: unknown) => void, encryptedSessionId: string }
    }
    app.get('/me', meRoute, async (request, reply) => {
      const user = (request as unknown as SessionRequest).session.get('user')
      if (user === undefined) return reply.code(401).send({ message: 'no session' })
      return { user }
    })
    app.post('/bench/login', loginRoute, async (request: LoginRequest) => {
      const { session } = request as unknown as SessionRequest
      session.set('user', userOf(request.body.name))
      // The session is saved in onSend, before this answer leaves.
      return { headers: { cookie: `sessionId=${session.encryptedSessionId}` } }
    })
    return [() => client.close()]
  }
}

/**
 * What an app writes by hand: the skey itself in the key (no hash), the
 * session as one JSON string read with one GET ('get'), or as a hash read
 * with HGETALL and its idle expiry with PTTL in one pipeline ('hash'). No
 * cache, no renewal, no revocation beyond deleting the key.
 */
async function naive (app: FastifyInstance, shape: 'get' | 'hash') {
  const redis = new Redis(options.redisUrl)
  const prefix = `${options.keyPrefix}naive:`
  const ttlMs = 7 * 24 * 3600 * 1000
  const read = shape === 'get'
    ? async (skey: string) => {
      const raw = await redis.get(prefix + skey)
      return raw === null ? null : (JSON.parse(raw) as { user: { id: string } }).user
    }
    : async (skey: string) => {
      const [[, hash], [, pttl]] = await redis.pipeline().hgetall(prefix + skey).pttl(prefix + skey).exec() as [[null, Record<string, string>], [null, number]]
      return hash.user === undefined || pttl <= 0 ? null : JSON.parse(hash.user) as { id: string }
    }
  app.decorateRequest('benchUser', null)
  app.get('/me', {
    ...meRoute,
    async preHandler (request, reply) {
      const skey = request.headers['x-skey']
      const user = typeof skey === 'string' ? await read(skey) : null
      if (user === null) return reply.code(401).send({ message: 'no session' })
      ;(request as unknown as { benchUser: unknown }).benchUser = user
    }
  }, async (request) => ({ user: (request as unknown as { benchUser: { id: string } }).benchUser }))
  app.post('/bench/login', loginRoute, async (request: LoginRequest) => {
    const skey = randomBytes(32).toString('base64url')
    const user = userOf(request.body.name)
    const createdAt = Date.now()
    if (shape === 'get') await redis.set(prefix + skey, JSON.stringify({ user, createdAt }), 'PX', ttlMs)
    else await redis.multi().hset(prefix + skey, { user: JSON.stringify(user), createdAt: String(createdAt) }).pexpire(prefix + skey, ttlMs).exec()
    return { headers: { 'x-skey': skey } }
  })
  return [async () => redis.quit()]
}

/** This library, as the umbrella plugin, on ioredis. */
async function library (app: FastifyInstance, session: Pick<NonNullable<MiniprogramAuthOptions['session']>, 'cache'>, redisOptions: RedisOptions = {}, carrier: 'header' | 'cookie' = 'header') {
  const { default: miniprogramAuth } = options.fromDist
    ? await import(new URL('../dist/index.js', import.meta.url).href) as typeof import('../index.js')
    : await import('../index.js')
  const redis = new Redis(options.redisUrl, redisOptions)
  await app.register(miniprogramAuth, {
    redis,
    keyPrefix: options.keyPrefix,
    session: { ...session, maxPerUser: options.maxPerUser },
    // Plain HTTP on loopback: a cookie without Secure, so without the __Host- prefix.
    ...(carrier === 'cookie' ? { web: { cookie: { secure: false } } } : {}),
    // The login rate limit counted as in production (one round trip), never reached.
    ...(options.platforms ? { ...options.platforms, rateLimit: { max: 1e9, timeWindow: '1m' } } : {})
  })
  app.get('/me', { ...meRoute, preHandler: app.authenticate }, async (request) => ({ user: request.user }))
  // Bench only: a session created the way a login creates one (index, record, cap).
  app.post('/bench/login', loginRoute, async (request: LoginRequest): Promise<{ headers: Headers }> => {
    const name = request.body.name
    const { skey } = await app.sessions.create({ provider: 'wechat', appId: 'wxbench', openId: name }, { user: userOf(name) })
    return { headers: carrier === 'cookie' ? { cookie: `${COOKIE}=${skey}` } : { 'x-skey': skey } }
  })
  if (options.banRoute) {
    // Bench only: ban the user `name` (its sessions end at once, everywhere).
    app.post('/bench/ban', loginRoute, async (request: LoginRequest) => {
      const ended = await app.sessions.ban(userOf(request.body.name).id)
      return { ended: ended.length }
    })
  }
  return [async () => redis.quit()]
}

function send (message: ChildMessage): void {
  process.send?.(message)
}

let reads = 0
let roundTrips = 0
// The garbage collector's pauses on the main thread, ms: scavenges of the young
// generation, and the rest (mark-sweep-compact of the old one, incremental marking).
const gcMs = { young: 0, old: 0 }
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (((entry as { detail?: { kind?: number } }).detail)?.kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) gcMs.young += entry.duration
    else gcMs.old += entry.duration
  }
}).observe({ entryTypes: ['gc'] })
if (options.countRoundTrips) countRoundTrips(Number(new URL(options.redisUrl).port || 6379))

/**
 * Counts the Redis round trips one after the other: a write to Redis that
 * follows a reply from Redis starts a new one (writes in a row, a pipeline or
 * commands sent together, are one). Meaningful with one request at a time.
 * The session cache's tracking connections (their pings) are left out. (A
 * CPU profile sees through the two wrappers: bench/cpu-profile.ts.)
 */
function countRoundTrips (port: number): void {
  const tracking = new WeakSet<Socket>()
  const isRedis = (socket: Socket) => socket.remotePort === port && !tracking.has(socket)
  let replied = true
  const write = Socket.prototype.write
  Socket.prototype.write = function countedWrite (this: Socket, chunk: unknown, ...rest: unknown[]) {
    if (this.remotePort === port && /TRACKING|mpa-invalidations/.test(String(chunk))) tracking.add(this)
    if (isRedis(this) && replied) {
      roundTrips++
      replied = false
    }
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest)
  }
  const push = Socket.prototype.push
  Socket.prototype.push = function countedPush (this: Socket, chunk: unknown, encoding?: BufferEncoding) {
    if (chunk !== null && isRedis(this)) replied = true
    return push.call(this, chunk, encoding)
  }
}
if (options.countReads) {
  const diagnostics = await import('node:diagnostics_channel')
  diagnostics.channel('tracing:fastify-miniprogram-auth:store:start').subscribe((context) => {
    if ((context as { operation?: string }).operation === 'session.read') reads++
  })
}

const apps: FastifyInstance[] = []
const closers: Array<() => Promise<unknown>> = []
const urls: string[] = []
for (let i = 0; i < Math.max(1, options.apps ?? 1); i++) {
  const app = Fastify({ logger: false })
  closers.push(...await builders[options.system](app))
  urls.push(await app.listen({ host: '127.0.0.1', port: 0 }))
  apps.push(app)
}
if (options.busyMs) {
  const busyMs = options.busyMs
  setInterval(() => {
    const until = performance.now() + busyMs
    while (performance.now() < until) { /* what a CPU-heavy request does to the event loop */ }
  }, options.busyEveryMs ?? 40).unref()
}

let stopping = false
async function stop () {
  if (stopping) return
  stopping = true
  for (const app of apps) await app.close()
  for (const close of closers) await close()
  // A normal exit: node --cpu-prof writes its profile now.
  process.exit(0)
}
for (const event of ['SIGTERM', 'SIGINT', 'disconnect']) process.on(event, () => { void stop() })
// The profile run asks for timestamps on the clock of the CPU profile's samples.
process.on('message', (message: { type?: string, name?: string }) => {
  if (message.type === 'mark') {
    send({ type: 'mark', name: String(message.name), us: Number(process.hrtime.bigint() / 1000n), cpu: process.cpuUsage(), reads, roundTrips, gcMs: { ...gcMs } })
  }
})
send({ type: 'ready', url: urls[0]!, urls })
