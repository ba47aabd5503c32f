import { test } from 'tap'
import { createAuthClient } from '../../client/index.js'
import { Browser, scanned } from '../scan/helpers.js'
import { alice, phones } from './phones.js'
import { clientInRealm } from './realm.js'
import { clientWorld } from './world.js'

// The helper's scan login and web-view URLs, built, in a realm with only wx,
// against the real server over HTTP: a PC browser's ticket scanned and
// confirmed (or refused) from the mini-program, and a web-view opened with
// the same session.

const clientTestWorld = await clientWorld('client-scan')
const { world, server } = clientTestWorld
const { wechatPhone } = phones(clientTestWorld)

test('scanTicket finds the scene in a page query or in launch options, and nothing else', async (t) => {
  const client = createAuthClient({ baseUrl: 'https://api.example.com', platform: 'wechat', api: wechatPhone(alice).api })
  const id = 'Ab-_0123456789abcdefgh'
  t.equal(client.scanTicket({ scene: id }), id, 'onLoad(query)')
  t.equal(client.scanTicket({ scene: encodeURIComponent(id) }), id, 'URL-encoded, as WeChat hands it')
  t.equal(client.scanTicket({ path: 'pages/scan/scan', query: { scene: id }, scene: 1047 } as object), id, 'launch options: query.scene, beside the numeric scene value')
  for (const source of [null, undefined, {}, { scene: 1047 }, { scene: 'a=1' }, { scene: '%E0%A4%A' }, { query: null }, { query: { scene: `${id}x` } }]) {
    t.equal(client.scanTicket(source as object), null, JSON.stringify(source))
  }
  await t.rejects(client.confirm('../../sessions'), TypeError, 'a path is no ticket: nothing is sent')
})

test('built, in a realm with only wx: scanned, confirm, and the PC logs in as the same user; or refuse', async (t) => {
  const { baseUrl } = await server(t)
  const phone = wechatPhone(alice)
  const client = clientInRealm({ wx: phone.api }).exports.createAuthClient({ baseUrl, platform: 'wechat' })
  const me = await client.login()

  const pc = new Browser()
  const { json: ticket } = await pc.call(baseUrl, 'POST', '/auth/scan/tickets')
  // What WeChat hands the page the code opens.
  const id = client.scanTicket({ scene: encodeURIComponent(scanned(ticket.code)!) })
  t.equal(id, ticket.id)
  const seen = await client.scanned(id!)
  t.equal(seen.state, 'scanned')
  t.equal(seen.requester.device, 'Windows NT 10.0; Win64; x64')
  t.same(await client.confirm(id!), { state: 'confirmed' })
  const claim = await pc.call(baseUrl, 'POST', ticket.session)
  t.equal(claim.status, 200)
  t.equal(claim.json.user.id, me.user.id)
  t.same(phone.sent.map((s) => `${s.method} ${new URL(s.url).pathname}`).slice(1), [`POST /auth/scan/tickets/${id}/scanned`, `POST /auth/scan/tickets/${id}/confirm`])
  t.equal(phone.sent.at(-1)?.headers['x-skey'], me.skey)

  const { json: second } = await pc.call(baseUrl, 'POST', '/auth/scan/tickets')
  await client.scanned(second.id)
  t.same(await client.refuse(second.id), { state: 'refused' })
  t.equal((await pc.call(baseUrl, 'GET', second.poll)).json.state, 'refused')
  // The server's refusals reject with their code.
  await t.rejects(client.confirm(second.id), { code: 'MPA_TICKET_STATE', statusCode: 409 })
  await t.rejects(client.scanned('AAAAAAAAAAAAAAAAAAAAAA'), { code: 'MPA_TICKET_UNKNOWN', statusCode: 404 })
})

test('webviewUrl: a one-time URL that opens the same session in the web-view, never the skey', async (t) => {
  const { baseUrl } = await server(t)
  const phone = wechatPhone(alice)
  const client = clientInRealm({ wx: phone.api }).exports.createAuthClient({ baseUrl, platform: 'wechat' })
  const { skey } = await client.login()
  const url = await client.webviewUrl('/orders?id=1')
  t.match(url, new RegExp(`^${baseUrl}/auth/webview\\?ticket=[A-Za-z0-9_-]{22}&redirect=%2Forders%3Fid%3D1$`))
  t.notOk(url.includes(skey), 'no skey in the URL')
  const view = new Browser()
  const opened = await view.call(baseUrl, 'GET', url.slice(baseUrl.length))
  t.equal(opened.status, 302)
  t.equal(opened.headers.location, '/orders?id=1')
  t.equal(view.cookies.get('__Host-mpa_session'), skey, 'the same session')
  t.equal((await new Browser().call(baseUrl, 'GET', url.slice(baseUrl.length))).json.code, 'MPA_TICKET_UNKNOWN', 'once')
  t.match(await client.webviewUrl(), /&redirect=%2F$/, 'the site\'s root by default')
  world.assertNoSecrets(t)
})
