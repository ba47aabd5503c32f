import { test } from 'tap'
import type { Reply, ReplyReading, SessionEnd } from '../../client/index.js'
import { alice, phones } from './phones.js'
import { clientInRealm } from './realm.js'
import { clientWorld } from './world.js'

// An app whose server answers every call with HTTP 200 and an envelope,
// `{ code, msg, data }`, the session state inside: the helper reads replies
// with the app's readReply, and re-logs in, ends sessions and rejects by what
// the reader says. The built helper, in a realm with only wx.

const clientEnvelopeWorld = await clientWorld('client-envelope')
const { world, server, expire } = clientEnvelopeWorld
const { wechatPhone } = phones(clientEnvelopeWorld)

interface Envelope {
  code: number
  msg: string
  data: unknown
  /** The server's MPA_ code of a failure. */
  error?: string
}

/** How this app reads its envelopes: code 0 is data, 40100 a 401 with the server's code, anything else a 400. */
function readEnvelope ({ statusCode, data }: Reply): ReplyReading {
  const body = data as Envelope
  if (body.code === 0) return { data: body.data }
  return { error: { statusCode: body.code === 40100 ? 401 : 400, code: body.error ?? `APP_${body.code}`, message: body.msg } }
}

test('envelopes: the login unwrapped, data unwrapped, an expired session logged in again, an ended one told, errors by the reader', async (t) => {
  const { app, baseUrl } = await server(t, { envelope: true })
  const phone = wechatPhone(alice)
  const { exports } = clientInRealm({ wx: phone.api })
  const ends: SessionEnd[] = []
  const client = exports.createAuthClient({ baseUrl, platform: 'wechat', readReply: readEnvelope, onSessionEnd: (end) => { ends.push(end) } })

  const { skey, user } = await client.login()
  t.match(JSON.parse(phone.sent.at(-1)?.given as string), { code: String }, 'the login route was posted')
  t.equal(client.skey(), skey, 'the skey of the unwrapped login reply, stored')
  t.match(await client.request({ url: '/me' }), { user: { id: user.id } }, 'the data, out of its envelope')

  await expire(app, skey)
  t.match(await client.request({ url: '/me' }), { user: { id: user.id } }, 'HTTP 200 { code: 40100, error: MPA_SESSION_EXPIRED }: logged in again')
  t.equal(phone.state.logins, 2)

  const avatar = phone.device.addFile(new Uint8Array([1, 2, 3]))
  t.match(await client.uploadFile({ url: '/avatar', filePath: avatar, name: 'avatar' }), { by: user.id, bytes: 3 }, 'uploads are read the same way')

  const invalid = await client.request({ url: '/orders', method: 'POST', data: { n: 'many' } }).catch((err: unknown) => err)
  t.match(invalid, { name: 'AuthClientError', statusCode: 400, code: 'FST_ERR_VALIDATION', data: { code: 40000, data: null } }, 'what the reader said, and the envelope as data')

  await t.rejects(client.request({ url: '/ended/MPA_SESSION_REVOKED' }), { statusCode: 401, code: 'MPA_SESSION_REVOKED' })
  t.same(ends.map((end) => end.reason), ['revoked'], 'an end inside an envelope, told')
  t.equal(phone.state.logins, 2, 'and no login')
})

test('envelopes: a reader that does not unwrap the login fails the login plainly, storing nothing', async (t) => {
  const { baseUrl } = await server(t, { envelope: true })
  const phone = wechatPhone(alice)
  const { exports } = clientInRealm({ wx: phone.api })
  for (const readReply of [undefined, (reply: Reply): ReplyReading => ({ data: reply.data })]) {
    const client = exports.createAuthClient({ baseUrl, platform: 'wechat', ...(readReply ? { readReply } : {}) })
    await t.rejects(client.login(), { statusCode: 0, code: 'MPA_CLIENT_LOGIN_FAILED', message: 'the login reply has no skey (does readReply give the login route\'s reply as data?)', data: { code: 0, msg: 'ok' } }, readReply ? 'a reader that passes the envelope through' : 'the default reader')
    t.equal(client.skey(), null)
  }
})

test('no session_key, token, app secret or private key in any reply, no skey in any log line', async (t) => {
  world.assertNoSecrets(t)
})
