import tap, { test } from 'tap'
import { spawn } from 'node:child_process'
import diagnostics from 'node:diagnostics_channel'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { createSessionAdmin, type RevokeEvent } from '../../index.js'
import { authOptions } from '../../examples/admin/auth-options.js'
import { PlatformsWorld } from '../helpers/platforms.js'
import { REDIS_URL } from '../helpers/redis.js'

// docs/admin.md: sessions revoked from outside the HTTP app, by a script
// built from the app's own options object. Run as a process of its own while
// two instances of the app serve the user (their session caches warm), its
// revocations end the sessions on both, and reach the script's onRevoke and
// its revocation channel.

const WECHAT = { appId: 'wx000000000000admin', appSecret: 'admin-secret-0123456789' }
const world = await PlatformsWorld.create(tap, 'admin', WECHAT, '2021000000admin01')
const root = fileURLToPath(new URL('../../', import.meta.url))

/** An instance of the app: the example's options, on the test's prefix. */
async function instance (keyPrefix: string, revoked: RevokeEvent[]): Promise<FastifyInstance> {
  return world.build({ ...authOptions(world.redis, (event) => { revoked.push(event) }), keyPrefix, rateLimit: false })
}

async function caching (app: FastifyInstance): Promise<boolean> {
  for (let i = 0; i < 500 && !app.sessions.caching; i++) await sleep(10)
  return app.sessions.caching
}

/** examples/admin/revoke-user.ts, as a process of its own: its exit code and the JSON lines it printed. */
async function revokeUser (keyPrefix: string, userId?: string): Promise<{ code: number | null, lines: Array<Record<string, any>>, stderr: string }> {
  const child = spawn(process.execPath, ['--import', './tools/ts-loader/register.mjs', 'examples/admin/revoke-user.ts', ...(userId === undefined ? [] : [userId])], {
    cwd: root,
    env: { ...process.env, REDIS_URL, MPA_KEY_PREFIX: keyPrefix },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += String(chunk) })
  child.stderr.on('data', (chunk: Buffer) => { stderr += String(chunk) })
  const [code] = await once(child, 'exit') as [number | null]
  return { code, lines: stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, any>), stderr }
}

test('the admin example, run as a separate process, logs a user out of two running instances', async (t) => {
  const keyPrefix = world.subPrefix('admin')
  const appsRevoked: RevokeEvent[] = []
  const apps = [await instance(keyPrefix, appsRevoked), await instance(keyPrefix, appsRevoked)]
  t.ok(await caching(apps[0]!) && await caching(apps[1]!), 'both instances serve sessions from their caches')
  const openId = 'oAdmin00000000000000000001'
  const logins = []
  for (const [i, app] of apps.entries()) {
    const login = await world.post(app, '/auth/wechat/login', { code: world.wechat.issueCode({ openId }) })
    t.equal(login.statusCode, 200, login.body)
    logins.push(login.json as { skey: string, user: { id: string } })
    await sleep(i === 0 ? 5 : 0) // two sessions told apart by age
  }
  const userId = logins[0]!.user.id
  for (const app of apps) for (const { skey } of logins) t.equal((await world.call(app, 'GET', '/me', undefined, skey)).statusCode, 200, 'served (and cached)')

  const { code, lines, stderr } = await revokeUser(keyPrefix, userId)
  t.equal(code, 0, stderr)
  const listed = lines.find((line) => 'listed' in line)?.listed as Array<{ id: string }>
  const ids = (await Promise.all(logins.map(({ skey }) => apps[0]!.sessions.get(skey)))).map((session) => session?.id)
  t.same(ids, [undefined, undefined], 'gone from the store')
  t.equal(listed.length, 2, 'the script listed both sessions')
  const audit = lines.filter((line) => 'audit' in line).map((line) => line.audit as RevokeEvent)
  t.same(audit, [
    { reason: 'admin', sessionIds: [listed[0]!.id], userId },
    { reason: 'admin', sessionIds: [listed[1]!.id], userId }
  ], 'the script\'s onRevoke saw each revocation: the newest, then the rest')
  t.same(lines.filter((line) => 'channel' in line).map((line) => line.channel), [{ reason: 'admin', count: 1 }, { reason: 'admin', count: 1 }], 'and its revocation channel')
  t.same(appsRevoked, [], 'the revocations were the script\'s, told in its process')

  for (const app of apps) {
    for (const { skey } of logins) {
      const me = await world.call(app, 'GET', '/me', undefined, skey)
      t.equal(me.statusCode, 401, 'each instance answers 401 on its next request')
      t.equal(me.json.code, 'MPA_SESSION_REVOKED')
    }
  }
  world.assertNoSecrets(t)
})

test('a ban from the admin: the app answers MPA_SESSION_BANNED, refuses the login until unban; onRevoke and the channel see it', async (t) => {
  const keyPrefix = world.subPrefix('admin')
  const told: RevokeEvent[] = []
  const options = { ...authOptions(world.redis, (event) => { told.push(event) }), keyPrefix }
  const app = await world.build({ ...options, rateLimit: false })
  t.ok(await caching(app))
  const openId = 'oAdmin00000000000000000003'
  const login = () => world.post(app, '/auth/wechat/login', { code: world.wechat.issueCode({ openId }) })
  const { skey, user } = (await login()).json as { skey: string, user: { id: string } }
  t.equal((await world.call(app, 'GET', '/me', undefined, skey)).statusCode, 200)
  const channel: unknown[] = []
  const subscriber = (event: unknown) => { channel.push(event) }
  diagnostics.subscribe('fastify-miniprogram-auth:revocation', subscriber)
  t.teardown(() => diagnostics.unsubscribe('fastify-miniprogram-auth:revocation', subscriber))

  const admin = createSessionAdmin(options)
  const ended = await admin.ban(user.id, { reason: 'fraud' })
  t.equal(ended.length, 1)
  t.match(await admin.banned(user.id), { reason: 'fraud' })
  t.match((await world.call(app, 'GET', '/me', undefined, skey)).json, { statusCode: 401, code: 'MPA_SESSION_BANNED' })
  t.match((await login()).json, { statusCode: 403, code: 'MPA_USER_BANNED' })
  t.ok(await admin.unban(user.id))
  t.equal((await login()).statusCode, 200, 'unbanned: logins again')
  await admin.close()
  t.same(told.filter((event) => event.reason === 'ban'), [{ reason: 'ban', sessionIds: ended, userId: user.id }], 'onRevoke saw the ban')
  t.same(channel, [{ reason: 'ban', count: 1 }], 'and the revocation channel')
})

test('the example without a user id: its usage, exit code 2', async (t) => {
  const { code, stderr } = await revokeUser(world.subPrefix('admin'))
  t.equal(code, 2)
  t.match(stderr, /^usage: revoke-user <userId>/)
})

test('createSessionAdmin: the app\'s options, checked', async (t) => {
  const keyPrefix = world.subPrefix('admin')
  const failures: unknown[] = []
  const options = { ...authOptions(world.redis, () => { throw new Error('audit store down') }), keyPrefix }
  const app = await world.build({ ...options, rateLimit: false })
  const login = await world.post(app, '/auth/wechat/login', { code: world.wechat.issueCode({ openId: 'oAdmin00000000000000000002' }) })
  const { user } = login.json as { user: { id: string } }

  const admin = createSessionAdmin(options, { log: { error: (details) => { failures.push(details) }, warn: (details) => { failures.push(details) } } })
  t.match(await admin.list(user.id), [{ user, provider: 'wechat' }], 'the app\'s sessions, by the same prefix')
  t.same(await admin.list('nobody'), [])
  t.equal((await admin.revoke({ userId: user.id })).length, 1)
  await admin.close()
  t.match(failures, [{ hook: 'onRevoke', err: { message: 'audit store down' } }], 'a failing onRevoke is told to the log it was given')
  t.equal((await world.call(app, 'GET', '/me', undefined, (login.json as { skey: string }).skey)).statusCode, 401)
  // Without a log of its own, a failing onRevoke is told on the console.
  const consoleErrors = t.capture(console, 'error', () => {})
  await world.post(app, '/auth/wechat/login', { code: world.wechat.issueCode({ openId: 'oAdmin00000000000000000002' }) })
  const quiet = createSessionAdmin(options)
  t.equal((await quiet.revoke({ userId: user.id })).length, 1)
  await quiet.close()
  t.match(consoleErrors(), [{ args: [/the app's onRevoke hook failed/, { hook: 'onRevoke' }] }])
  // And one that overruns hookTimeout is told there too, and no longer waited for.
  const consoleWarnings = t.capture(console, 'warn', () => {})
  const slow = createSessionAdmin({ ...options, hookTimeout: '20ms', onRevoke: () => new Promise((resolve) => setTimeout(resolve, 200)) })
  await world.post(app, '/auth/wechat/login', { code: world.wechat.issueCode({ openId: 'oAdmin00000000000000000002' }) })
  t.equal((await slow.revoke({ userId: user.id })).length, 1)
  await slow.close()
  t.match(consoleWarnings(), [{ args: [/the app's onRevoke hook did not settle within 20 ms/, { hook: 'onRevoke', timeoutMs: 20 }] }])
  t.throws(() => createSessionAdmin({ keyPrefix }), /^redis: pass the app's ioredis Redis or Cluster as options\.redis/)
  t.throws(() => createSessionAdmin({ ...options, session: { ttl: 'soon' } }), /session\.ttl/, 'session options checked as the plugin checks them')
})

test('docs/admin.md shows the example as it is', async (t) => {
  const doc = readFileSync(`${root}docs/admin.md`, 'utf8')
  for (const file of ['examples/admin/auth-options.ts', 'examples/admin/revoke-user.ts']) {
    const source = readFileSync(`${root}${file}`, 'utf8').replaceAll('\'../../index.js\'', '\'fastify-miniprogram-auth\'')
    t.ok(doc.includes(`// ${file}\n${source.trimEnd()}\n\`\`\``), file)
  }
})
