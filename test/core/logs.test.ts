import { test } from 'tap'
import { connect } from 'node:net'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { PlatformsWorld } from '../helpers/platforms.js'
import { World } from '../helpers/world.js'

// What the logs say, and what they never say: a login is recorded at info
// with who and where, and no skey reaches a log line at any level, even
// from Fastify's own logging of malformed requests.

const WECHAT = { appId: 'wx000000000000logs1', appSecret: 'logs-secret-0123456789' }

/** Every string in a log line, Buffers (as pino writes them) decoded. */
function stringsOf (value: unknown): string[] {
  if (typeof value === 'string') return [value]
  if (Array.isArray(value)) return value.flatMap(stringsOf)
  if (typeof value === 'object' && value !== null) {
    const node = value as { type?: unknown, data?: unknown }
    if (node.type === 'Buffer' && Array.isArray(node.data)) return [Buffer.from(node.data as number[]).toString('latin1')]
    return Object.entries(value).flatMap(([key, inner]) => [key, ...stringsOf(inner)])
  }
  return []
}

test('a login is logged at info: provider, appId, session id and user id, no secret', async (t) => {
  const world = await PlatformsWorld.create(t, 'logs', WECHAT, '2021000000000logs')
  const { logs } = world
  const app = await world.build()
  const res = await app.inject({ method: 'POST', url: '/auth/wechat/login', payload: { code: world.wechat.issueCode({ openId: 'oLogs0000000000000000000001' }) } })
  t.equal(res.statusCode, 200)
  const { skey } = res.json()
  const session = (await app.sessions.get(skey))!
  const lines = logs.lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  const login = lines.filter((line) => line.msg === 'login')
  t.equal(login.length, 1)
  t.match(login[0], { level: 30, provider: 'wechat', appId: WECHAT.appId, sessionId: session.id, userId: `wechat:${WECHAT.appId}:oLogs0000000000000000000001` })
  const secrets = [skey, session.secrets.sessionKey!, WECHAT.appSecret]
  t.equal(secrets.filter((secret) => logs.text.includes(secret)).length, 0, 'no skey, session_key or app secret in any line')
  world.assertNoSecrets(t)
})

test('malformed requests carrying skeys: Fastify\'s trace log of their raw bytes is redacted', async (t) => {
  const world = new World(t, 'logs-raw')
  const { logs } = world
  const app = await world.build()
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const skeys: string[] = []
  const malformed = [
    (skey: string) => `GET /auth/session HTTP/1.1\r\nHost: a\r\nx-skey: ${skey}\r\nBad Header\r\n\r\n`,
    (skey: string) => `POST /auth/wechat/login HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${skey}\r\nContent-Length: nope\r\n\r\n{"code":"c"}`,
    (skey: string) => `GET /auth/session HTTP/1.1\r\nHost: a\r\nx-skey: ${skey}\u0001\r\n\r\n`,
    (skey: string) => `POST /auth/wechat/login HTTP/1.1\r\nHost: a\r\nx-skey: ${skey}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{"code":"${skey}"}\r\n`
  ]
  for (let round = 0; round < 10; round++) {
    for (const request of malformed) {
      const skey = randomBytes(32).toString('base64url')
      skeys.push(skey)
      const socket = connect(port, '127.0.0.1')
      socket.on('error', () => {})
      await once(socket, 'connect')
      socket.write(request(skey))
      // Fastify logs the client error before it answers with a 4xx.
      const [answer] = await once(socket, 'data') as [Buffer]
      t.match(answer.toString(), /^HTTP\/1\.1 4\d\d /)
      socket.destroy()
    }
  }
  const clientErrors = logs.lines.filter((line) => line.includes('client error'))
  t.ok(clientErrors.length >= 30, `Fastify logged the malformed requests (${clientErrors.length} lines)`)
  const text = logs.lines.flatMap((line) => stringsOf(JSON.parse(line))).join('\n')
  t.equal(skeys.filter((skey) => text.includes(skey)).length, 0, `none of ${skeys.length} skeys in any log line, Buffers decoded`)
})
