import tap, { test } from 'tap'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createSessionAdmin } from '../../index.js'
import { Device, fakeWx } from '../client/fakes.js'
import { clientInRealm } from '../client/realm.js'
import { PlatformsWorld } from '../helpers/platforms.js'
import { REDIS_URL } from '../helpers/redis.js'

// docs/nestjs.md's app (examples/nestjs), run as Nest runs it, in a process
// of its own: the plugin registered on Nest's Fastify, a guard that runs
// authenticate, request.user in a controller. Our routes keep our contract
// behind Nest's own error handling, the guard's refusals keep our codes
// through Nest's default exception filter, and the client helper logs in
// again by itself.

const WECHAT = { appId: 'wx00000000000nestjs', appSecret: 'nestjs-secret-0123456789' }
const world = await PlatformsWorld.create(tap, 'nestjs', WECHAT, '2021000000nestjs1')
const keyPrefix = world.subPrefix('nest')
// The test's own view of the app's sessions, to revoke them as an admin does.
const sessions = createSessionAdmin({ redis: world.redis, keyPrefix })
tap.teardown(() => sessions.close())

const root = fileURLToPath(new URL('../../', import.meta.url))
const child = spawn(process.execPath, ['--import', './tools/ts-loader/register.mjs', 'examples/nestjs/main.ts'], {
  cwd: root,
  env: { ...process.env, REDIS_URL, MPA_KEY_PREFIX: keyPrefix, PORT: '0', WECHAT_APP_ID: WECHAT.appId, WECHAT_APP_SECRET: WECHAT.appSecret, WECHAT_BASE_URL: world.wechat.url },
  stdio: ['ignore', 'pipe', 'pipe']
})
let output = ''
child.stdout.on('data', (chunk: Buffer) => { output += String(chunk) })
child.stderr.on('data', (chunk: Buffer) => { output += String(chunk) })
tap.teardown(async () => {
  if (child.exitCode === null) {
    child.kill('SIGTERM')
    await once(child, 'exit')
  }
})
const baseUrl = await new Promise<string>((resolve, reject) => {
  const timer = setTimeout(() => { reject(new Error(`the Nest app did not start:\n${output}`)) }, 60_000)
  child.stdout.on('data', () => {
    const url = /listening on (http:\/\/\S+)/.exec(output)?.[1]
    if (url !== undefined) {
      clearTimeout(timer)
      resolve(url)
    }
  })
  child.once('exit', (code) => { reject(new Error(`the Nest app exited (${code}):\n${output}`)) })
})

const get = async (path: string, skey?: string) => {
  const response = await fetch(`${baseUrl}${path}`, { headers: skey ? { 'x-skey': skey } : {} })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}
/** Every skey the app handed out here: none may reach its log. */
const handedOut: string[] = []
const MISSING = { statusCode: 401, code: 'MPA_SKEY_MISSING', error: 'Unauthorized', message: 'No skey: send it in the x-skey header or as Authorization: Bearer' }

test('our routes keep our contract inside Nest', async (t) => {
  t.same(await get('/auth/session'), { status: 401, body: MISSING })
  const badBody = await fetch(`${baseUrl}/auth/wechat/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"code":42}' })
  t.equal(badBody.status, 400)
  t.match(await badBody.json(), { statusCode: 400, code: 'FST_ERR_VALIDATION' })
})

test('the guard: request.user in the controller, our codes through Nest\'s exception filter', async (t) => {
  const login = await fetch(`${baseUrl}/auth/wechat/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: world.wechat.issueCode({ openId: 'oNest0000000000000000000001' }) })
  })
  const { skey, user } = await login.json() as { skey: string, user: { id: string } }
  handedOut.push(skey)
  t.same(await get('/me', skey), { status: 200, body: { user } })
  t.same(await get('/me'), { status: 401, body: MISSING })
  t.same(await get('/me', 'not-an-skey'), { status: 401, body: { statusCode: 401, code: 'MPA_SKEY_MALFORMED', error: 'Unauthorized', message: 'The skey is malformed' } })
  t.match(await get('/me', randomBytes(32).toString('base64url')), { status: 401, body: { statusCode: 401, code: 'MPA_SESSION_EXPIRED', error: 'Unauthorized' } })
  await sessions.revoke({ skey })
  t.match(await get('/me', skey), { status: 401, body: { statusCode: 401, code: 'MPA_SESSION_REVOKED', error: 'Unauthorized' } })
})

test('the client helper logs in again by itself against Nest, on its routes and ours', async (t) => {
  const user = { openId: 'oNestRelogin000000000000001' }
  const fake = fakeWx(() => world.wechat.issueCode(user), new Device())
  const client = clientInRealm({ wx: fake.api }).exports.createAuthClient({ baseUrl, platform: 'wechat' })
  const first = await client.login()
  t.same(await client.request({ url: '/me' }), { user: first.user })
  // A session that lapsed: its skey is unknown to the server, which answers 401 MPA_SESSION_EXPIRED.
  const lapse = () => { fake.device.storage.set('mpa:skey', randomBytes(32).toString('base64url')) }
  lapse()
  t.same(await client.request({ url: '/me' }), { user: first.user }, 'a Nest route behind the guard')
  const second = client.skey()!
  lapse()
  t.match(await client.request({ url: '/auth/session' }), { user: first.user }, 'a route of ours')
  t.equal(fake.state.logins, 3, 'each time by itself')
  handedOut.push(first.skey, second, client.skey()!)
  t.equal(handedOut.filter((skey) => output.includes(skey)).length, 0, 'no skey in the Nest app\'s log')
})

test('docs/nestjs.md shows the example as it is', async (t) => {
  const doc = readFileSync(`${root}docs/nestjs.md`, 'utf8')
  for (const file of ['examples/nestjs/main.ts', 'examples/nestjs/session.guard.ts', 'examples/nestjs/app.module.ts']) {
    const source = readFileSync(`${root}${file}`, 'utf8').replaceAll('\'../../index.js\'', '\'fastify-miniprogram-auth\'')
    t.ok(doc.includes(`// ${file}\n${source.trimEnd()}\n\`\`\``), file)
  }
})
