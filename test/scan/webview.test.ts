import { test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { WechatWorld } from '../helpers/wechat.js'
import { Browser, listening } from './helpers.js'

// Web-view pages: a one-time ticket from the mini-program's session becomes
// that same session's cookie in the web-view; the skey is never in a URL.

async function webviewWorld (t: Parameters<typeof WechatWorld.create>[0], name: string, webview: object | true = true) {
  const world = await WechatWorld.create(t, name)
  const app = await world.build({ web: { redirects: ['https://shop.example/account/'] }, webview })
  return { world, app, base: await listening(app) }
}

test('a ticket opens the same session as a cookie, once, and redirects within the site', async (t) => {
  const { world, app, base } = await webviewWorld(t, 'webview-once')
  const { skey } = await world.login(app, 'o-webview')
  const issued = await world.call(app, 'POST', '/auth/webview/tickets', undefined, skey)
  t.equal(issued.statusCode, 200)
  const { ticket, expiresAt } = issued.json
  t.match(ticket, /^[A-Za-z0-9_-]{22}$/)
  t.ok(expiresAt > Date.now() + 55_000 && expiresAt <= Date.now() + 60_000, 'about a minute')
  t.notOk(await world.redis.keys(`${world.prefix}*${skey}*`).then((keys) => keys.length), 'no Redis key names the skey')
  const stored = await world.redis.keys(`${world.prefix}webview:*`)
  t.equal(stored.length, 1)
  t.not(await world.redis.get(stored[0]!), skey, 'the skey is sealed')

  const view = new Browser()
  const opened = await view.call(base, 'GET', `/auth/webview?ticket=${ticket}&redirect=${encodeURIComponent('/orders?id=1')}`)
  t.equal(opened.status, 302)
  t.equal(opened.headers.location, '/orders?id=1')
  t.equal(view.cookies.get('__Host-mpa_session'), skey, 'the same session')
  const cookie = [opened.headers['set-cookie']].flat().find((line) => line?.startsWith('__Host-mpa_session='))!
  t.match(cookie, /HttpOnly/)
  t.match(cookie, /Secure/)
  const again = await new Browser().call(base, 'GET', `/auth/webview?ticket=${ticket}`)
  t.equal(again.status, 404)
  t.equal(again.json.code, 'MPA_TICKET_UNKNOWN')
  // Default redirect: the site's root.
  const second = await world.call(app, 'POST', '/auth/webview/tickets', undefined, skey)
  t.equal((await new Browser().call(base, 'GET', `/auth/webview?ticket=${second.json.ticket}`)).headers.location, '/')
  world.assertNoSecrets(t)
})

test('only same-origin paths: a refused redirect leaves the ticket unspent', async (t) => {
  const { world, app, base } = await webviewWorld(t, 'webview-redirects')
  const { skey } = await world.login(app, 'o-redirects')
  const { json: { ticket } } = await world.call(app, 'POST', '/auth/webview/tickets', undefined, skey)
  for (const redirect of ['https://evil.example/', '//evil.example/x', '/\\evil.example', 'orders', '/a b', 'javascript:alert(1)']) {
    const refused = await new Browser().call(base, 'GET', `/auth/webview?ticket=${ticket}&redirect=${encodeURIComponent(redirect)}`)
    t.equal(refused.status, 400, redirect)
    t.equal(refused.json.code, 'MPA_REDIRECT_REFUSED')
  }
  const allowed = await world.call(app, 'POST', '/auth/webview/tickets', undefined, skey)
  const elsewhere = await new Browser().call(base, 'GET', `/auth/webview?ticket=${allowed.json.ticket}&redirect=${encodeURIComponent('https://shop.example/account/orders')}`)
  t.equal(elsewhere.headers.location, 'https://shop.example/account/orders', 'an absolute URL the web.redirects allow-list allows')
  for (const redirect of ['https://shop.example/admin', 'https://shop.example.evil/account/']) {
    t.equal((await new Browser().call(base, 'GET', `/auth/webview?ticket=${ticket}&redirect=${encodeURIComponent(redirect)}`)).json.code, 'MPA_REDIRECT_REFUSED', redirect)
  }
  t.equal((await new Browser().call(base, 'GET', `/auth/webview?ticket=${ticket}&redirect=/ok`)).status, 302)
  t.equal((await new Browser().call(base, 'GET', '/auth/webview?ticket=short')).status, 400)
  t.equal((await world.call(app, 'POST', '/auth/webview/tickets')).json.code, 'MPA_SKEY_MISSING')
})

test('a ticket expires; ending the session ends the web-view\'s cookie and any ticket not yet used', async (t) => {
  const { world, app, base } = await webviewWorld(t, 'webview-end', { ticketTtl: '1s' })
  const { skey } = await world.login(app, 'o-ending')
  const late = await world.call(app, 'POST', '/auth/webview/tickets', undefined, skey)
  await sleep(1100)
  t.equal((await new Browser().call(base, 'GET', `/auth/webview?ticket=${late.json.ticket}`)).json.code, 'MPA_TICKET_UNKNOWN')

  const view = new Browser()
  const { json: { ticket } } = await world.call(app, 'POST', '/auth/webview/tickets', undefined, skey)
  const pending = await world.call(app, 'POST', '/auth/webview/tickets', undefined, skey)
  t.equal((await view.call(base, 'GET', `/auth/webview?ticket=${ticket}`)).status, 302)
  // The cookie authenticates the web-view's requests, as the skey header does the mini-program's.
  const mine = await view.call(base, 'GET', '/auth/session')
  t.equal(mine.status, 200)
  t.equal(mine.json.user.id, (await world.call(app, 'GET', '/auth/session', undefined, skey)).json.user.id)
  t.equal((await world.call(app, 'DELETE', '/auth/session', undefined, skey)).statusCode, 204)
  const ended = await view.call(base, 'GET', '/auth/session')
  t.equal(ended.status, 401)
  t.equal(ended.json.code, 'MPA_SESSION_REVOKED', 'the cookie is the same skey: revoked with it')
  const afterwards = await new Browser().call(base, 'GET', `/auth/webview?ticket=${pending.json.ticket}`)
  t.equal(afterwards.status, 401)
  t.equal(afterwards.json.code, 'MPA_SESSION_REVOKED')
})

test('the webview option is checked at register, naming it', async (t) => {
  const world = await WechatWorld.create(t, 'webview-options')
  await t.rejects(world.build({ web: {}, webview: { ticketTtl: '6m' } }), /webview.ticketTtl must be at most 5 minutes/)
  await t.rejects(world.build({ web: {}, webview: { ticketTtl: -1 } }), /webview.ticketTtl must be a positive number/)
  await t.rejects(world.build({ web: {}, webview: { lifetime: 1 } as object }), /unknown option webview.lifetime/)
  await t.rejects(world.build({ web: {}, webview: 'yes' as never }), /^webview must be an object or true \(got "yes"\)/)
})
