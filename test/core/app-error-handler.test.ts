import tap, { test } from 'tap'
import { randomBytes } from 'node:crypto'
import type { FastifyError, FastifyInstance } from 'fastify'
import { readContractReply, type Reply, type ReplyReading } from '../../client/index.js'
import { errorContractBody, errors } from '../../index.js'
import { clientInRealm } from '../client/realm.js'
import { Device, fakeWx } from '../client/fakes.js'
import type { TestAppOptions } from '../helpers/app.js'
import { PlatformsWorld } from '../helpers/platforms.js'

// An app as many teams write it: a root error handler that answers every
// error as HTTP 200 `{ code, msg, data }`. Our routes keep our contract all
// the same (the client helper depends on its codes), or answer the app's
// envelope when the app asks for it with `errorReply`; each error is logged once.

const WECHAT = { appId: 'wx0000000apphandler', appSecret: 'app-handler-secret-0123456789' }
const world = await PlatformsWorld.create(tap, 'app-handler', WECHAT, '2021000apphandler')

/** The app's envelope: HTTP 200 and a string code, as the app's own handler answers. */
const envelopeOf = (status: number, message: string) => ({ code: `${status}00`, msg: message, data: null })

/** An app whose root error handler rewrites every error; `/mine` is an app route of its own that fails. */
async function appWithHandler (options: TestAppOptions = {}): Promise<FastifyInstance> {
  return world.build({
    keyPrefix: world.subPrefix('handler'),
    rateLimit: false,
    before: async (app) => {
      app.setErrorHandler((error: FastifyError, _request, reply) => reply.code(200).send(envelopeOf(error.statusCode ?? 500, error.message)))
    },
    ...options
  }, (app) => {
    app.get('/mine', async () => { throw new errors.RequestRejectedError('the app\'s own refusal') })
  })
}

const loginOf = (app: FastifyInstance, openId: string) =>
  app.inject({ method: 'POST', url: '/auth/wechat/login', payload: { code: world.wechat.issueCode({ openId }) } })

test('with the app\'s root error handler, our routes still answer our contract', async (t) => {
  const app = await appWithHandler()
  const missing = await app.inject({ url: '/auth/session' })
  t.equal(missing.statusCode, 401)
  t.same(missing.json(), { statusCode: 401, code: 'MPA_SKEY_MISSING', error: 'Unauthorized', message: 'No skey: send it in the x-skey header or as Authorization: Bearer' })
  const badBody = await app.inject({ method: 'POST', url: '/auth/wechat/login', payload: { code: 42 } })
  t.equal(badBody.statusCode, 400)
  t.match(badBody.json(), { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request' })
  const spent = await app.inject({ method: 'POST', url: '/auth/wechat/login', payload: { code: 'never-issued' } })
  t.equal(spent.statusCode, 401)
  t.match(spent.json(), { statusCode: 401, code: 'MPA_CODE_INVALID' })
  const mine = await app.inject({ url: '/mine' })
  t.same([mine.statusCode, mine.json()], [200, envelopeOf(400, 'the app\'s own refusal')], 'the app\'s own routes keep the app\'s handler')
  world.assertNoSecrets(t)
})

test('each error on our routes is one log line, at info for a 4xx, at error for a 5xx', async (t) => {
  const logs = world.capture()
  const app = await appWithHandler({ logs, resolveUser: () => { throw new Error('database down') } })
  await app.inject({ url: '/auth/session' })
  const lines = logs.lines.filter((line) => line.includes('"err"'))
  t.equal(lines.length, 1, lines.join(''))
  t.match(JSON.parse(lines[0]!), { level: 30, err: { code: 'MPA_SKEY_MISSING' } })

  logs.lines.length = 0
  const failed = await loginOf(app, 'oAppHandler000000000000001')
  t.equal(failed.statusCode, 500)
  t.equal(failed.json().code, 'MPA_INTERNAL_ERROR')
  const errorLines = logs.lines.filter((line) => line.includes('"err"'))
  t.equal(errorLines.length, 1, errorLines.join(''))
  t.match(JSON.parse(errorLines[0]!), { level: 50, err: { message: 'database down' } })
})

test('errorReply: our routes answer the app\'s envelope, with our status and code in it', async (t) => {
  const seen: string[] = []
  const app = await appWithHandler({
    errorReply: (error, request) => {
      seen.push(`${request.method} ${request.url}`)
      return { code: error.statusCode * 100, msg: error.message, data: null, error: error.code }
    }
  })
  const missing = await app.inject({ url: '/auth/session' })
  t.equal(missing.statusCode, 401, 'the status stays ours')
  t.same(missing.json(), { code: 40100, msg: 'No skey: send it in the x-skey header or as Authorization: Bearer', data: null, error: 'MPA_SKEY_MISSING' })
  const badBody = await app.inject({ method: 'POST', url: '/auth/wechat/login', payload: {} })
  t.match(badBody.json(), { code: 40000, error: 'FST_ERR_VALIDATION' }, 'fields no response schema knows are kept')
  t.same(seen, ['GET /auth/session', 'POST /auth/wechat/login'])

  const throwing = await appWithHandler({ errorReply: () => { throw new Error('bad shaper') } })
  const fallback = await throwing.inject({ url: '/auth/session' })
  t.match([fallback.statusCode, fallback.json()], [401, { code: 'MPA_SKEY_MISSING' }], 'an errorReply that throws: our contract')
})

test('errorContractBody: the contract\'s body for an error, for an app\'s own handler or guard', async (t) => {
  t.same(errorContractBody(new errors.SessionExpiredError()), { statusCode: 401, code: 'MPA_SESSION_EXPIRED', error: 'Unauthorized', message: 'The session has expired: log in again' })
  t.same(errorContractBody(Object.assign(new Error('banned'), { statusCode: 403 })), { statusCode: 403, code: 'MPA_REQUEST_REJECTED', error: 'Forbidden', message: 'banned' })
  const internal = { statusCode: 500, code: 'MPA_INTERNAL_ERROR', error: 'Internal Server Error', message: 'Internal server error' }
  t.same(errorContractBody(new Error('connect ECONNREFUSED 10.0.0.5:5432')), internal, 'an unexpected error tells nothing of its cause')
  t.same(errorContractBody(Object.defineProperty({}, 'statusCode', { get () { throw new Error('unreadable') } })), internal, 'nor does one that cannot be read')
  t.same(errorContractBody({ statusCode: 400, code: 'APP_BAD', message: 42 }), { statusCode: 400, code: 'APP_BAD', error: 'Bad Request', message: 'Bad Request' }, 'a message that is no string: the status\'s')
  t.same(errorContractBody({ statusCode: 499, code: 'APP_CLOSED' }), { statusCode: 499, code: 'APP_CLOSED', error: 'Error', message: 'Error' }, 'a status Node has no name for')
})

test('errorReply must be a function, named at register', async (t) => {
  await t.rejects(appWithHandler({ errorReply: 'envelope' as never }), /^errorReply must be a function/)
})

/** Reads the envelope of the errorReply above, as docs/client.md's readReply does. */
function readEnvelope (reply: Reply): ReplyReading {
  const body = reply.data as { code?: unknown, msg: string, error?: string } | null
  if (typeof body?.code !== 'number') return readContractReply(reply)
  return { error: { statusCode: body.code / 100, code: body.error ?? `APP_${body.code}`, message: body.msg } }
}

for (const [name, options, extra] of [
  ['our contract', {}, {}],
  ['the app\'s envelope (errorReply and readReply)', { errorReply: (error: { statusCode: number, code: string, message: string }) => ({ code: error.statusCode * 100, msg: error.message, data: null, error: error.code }) }, { readReply: readEnvelope }]
] as const) {
  test(`the client helper logs in again by itself, behind the app's handler: ${name}`, async (t) => {
    const app = await appWithHandler(options)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const user = { openId: `oAppHandlerRelogin${name.length}00000001` }
    const fake = fakeWx(() => world.wechat.issueCode(user), new Device())
    const { exports } = clientInRealm({ wx: fake.api })
    const client = exports.createAuthClient({ baseUrl: `http://127.0.0.1:${port}`, platform: 'wechat', ...extra })
    const first = await client.login()
    // A session that lapsed: its skey is unknown to the server, which answers 401 MPA_SESSION_EXPIRED.
    fake.device.storage.set('mpa:skey', randomBytes(32).toString('base64url'))
    const session = await client.request<{ user: { id: string } }>({ url: '/auth/session' })
    t.equal(session.user.id, first.user.id, 'answered after a new login')
    t.not(client.skey(), first.skey, 'with a new skey')
    t.equal(fake.state.logins, 2, 'one login by itself')
  })
}
