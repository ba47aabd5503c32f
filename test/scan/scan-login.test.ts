import { test } from 'tap'
import diagnostics from 'node:diagnostics_channel'
import { setTimeout as sleep } from 'node:timers/promises'
import { WechatWorld } from '../helpers/wechat.js'
import { Browser, listening, scanned } from './helpers.js'

// Scan login over HTTP, against the WeChat sandbox and the shared Redis: a PC
// browser's ticket, scanned, confirmed or refused from the mini-program, its
// outcome delivered by long poll and by Server-Sent Events on any instance,
// and the browser's own session, once.

const SCAN = { page: 'pages/scan/scan' }

async function scanWorld (t: Parameters<typeof WechatWorld.create>[0], name: string, scanLogin: object = SCAN) {
  const world = await WechatWorld.create(t, name, { pages: ['pages/index/index', 'pages/scan/scan'] })
  const apps = [await world.build({ web: {}, scanLogin }), await world.build({ web: {}, scanLogin })]
  const bases = await Promise.all(apps.map(listening))
  return { world, apps, bases }
}

/** The phone: a WeChat login, its skey. */
async function phone (world: WechatWorld, app: Parameters<WechatWorld['login']>[0], openId: string): Promise<string> {
  const { skey, statusCode } = await world.login(app, openId)
  if (statusCode !== 200) throw new Error(`login answered ${statusCode}`)
  return skey
}

test('a ticket goes waiting → scanned → confirmed → claimed; the browser gets a session of its own, once', async (t) => {
  const { world, apps: [app], bases: [base] } = await scanWorld(t, 'scan-lifecycle')
  const pc = new Browser()
  const ticket = await pc.call(base!, 'POST', '/auth/scan/tickets')
  t.equal(ticket.status, 200)
  const { id, code, poll, events, session } = ticket.json
  t.match(id, /^[A-Za-z0-9_-]{22}$/)
  t.equal(poll, `/auth/scan/tickets/${id}`)
  t.equal(events, `${poll}/events`)
  t.equal(session, `${poll}/session`)
  t.ok(ticket.json.expiresAt > Date.now() + 170_000 && ticket.json.expiresAt <= Date.now() + 180_000, 'the default lifetime, 3 minutes')
  // The code WeChat drew carries the ticket id as its scene.
  t.match(code, /^data:image\/png;base64,/)
  t.equal(scanned(code), id)
  t.ok(pc.cookies.has('__Host-mpa_browser'), 'the browser got its binding cookie')
  t.same((await pc.call(base!, 'GET', poll)).json, { state: 'waiting', expiresAt: ticket.json.expiresAt })

  const skey = await phone(world, app!, 'o-scan-user')
  const seen = await world.call(app!, 'POST', `${poll}/scanned`, undefined, skey)
  t.equal(seen.statusCode, 200)
  t.equal(seen.json.state, 'scanned')
  t.equal(seen.json.requester.device, 'Windows NT 10.0; Win64; x64', 'the phone sees what asks')
  t.equal(seen.json.requester.ip, '127.0.0.1')
  t.equal((await pc.call(base!, 'GET', `${poll}?state=waiting`)).json.state, 'scanned')
  // Scanned once: a second scan is refused, as is a claim before the confirmation.
  t.equal((await world.call(app!, 'POST', `${poll}/scanned`, undefined, skey)).json.code, 'MPA_TICKET_STATE')
  t.equal((await pc.call(base!, 'POST', session)).json.code, 'MPA_TICKET_STATE')

  // Another user cannot confirm what this one scanned.
  const other = await phone(world, app!, 'o-someone-else')
  const stolen = await world.call(app!, 'POST', `${poll}/confirm`, undefined, other)
  t.equal(stolen.statusCode, 409)
  t.equal(stolen.json.message, 'The ticket is scanned by another session: it cannot be confirmed')

  const confirmed = await world.call(app!, 'POST', `${poll}/confirm`, undefined, skey)
  t.same(confirmed.json, { state: 'confirmed' })
  t.equal((await pc.call(base!, 'GET', poll)).json.state, 'confirmed')

  const claim = await pc.call(base!, 'POST', session)
  t.equal(claim.status, 200)
  t.equal(claim.json.user.id, (await world.call(app!, 'GET', '/auth/session', undefined, skey)).json.user.id)
  t.notOk('skey' in claim.json, 'the skey is in the HttpOnly cookie only')
  const cookie = [claim.headers['set-cookie']].flat().find((line) => line?.startsWith('__Host-mpa_session='))!
  t.match(cookie, /HttpOnly/)
  t.match(cookie, /Secure/)
  t.match(cookie, /SameSite=Lax/)
  const webSkey = pc.cookies.get('__Host-mpa_session')!
  t.not(webSkey, skey, 'a session of its own')
  const web = await world.call(app!, 'GET', '/auth/session', undefined, webSkey)
  const mobile = await world.call(app!, 'GET', '/auth/session', undefined, skey)
  t.equal(web.statusCode, 200)
  t.same(web.json.user, mobile.json.user)
  t.equal(web.json.session.provider, 'wechat-scan', 'a browser session: its own provider name (its own session rules)')
  t.equal(web.json.session.openId, 'o-scan-user')
  t.equal(web.json.session.device, 'Windows NT 10.0; Win64; x64')
  t.not(web.json.session.id, mobile.json.session.id)
  // Once.
  const again = await pc.call(base!, 'POST', session)
  t.equal(again.status, 409)
  t.equal(again.json.code, 'MPA_TICKET_STATE')
  t.equal((await pc.call(base!, 'GET', poll)).json.state, 'claimed')
  // The cookie is the browser's session; logging it out leaves the phone logged in.
  t.equal((await pc.call(base!, 'GET', '/auth/session')).json.session.id, web.json.session.id)
  t.equal((await pc.call(base!, 'POST', '/auth/web/logout', { json: true })).status, 204)
  t.equal((await world.call(app!, 'GET', '/auth/session', undefined, webSkey)).statusCode, 401)
  t.equal((await world.call(app!, 'GET', '/auth/session', undefined, skey)).statusCode, 200)
  world.assertNoSecrets(t, [webSkey])
})

test('concurrent confirmations and claims on two instances: exactly one of each wins', async (t) => {
  const { world, apps, bases } = await scanWorld(t, 'scan-race')
  const pc = new Browser()
  const { json: { id } } = await pc.call(bases[0]!, 'POST', '/auth/scan/tickets')
  const skey = await phone(world, apps[1]!, 'o-racer')
  t.equal((await world.call(apps[1]!, 'POST', `/auth/scan/tickets/${id}/scanned`, undefined, skey)).statusCode, 200)
  const confirms = await Promise.all(Array.from({ length: 10 }, (_, i) =>
    world.call(apps[i % 2]!, 'POST', `/auth/scan/tickets/${id}/${i % 3 === 0 ? 'refuse' : 'confirm'}`, undefined, skey)))
  const won = confirms.filter((reply) => reply.statusCode === 200)
  t.equal(won.length, 1, 'one transition out of scanned')
  t.ok(confirms.filter((reply) => reply.statusCode === 409).every((reply) => reply.json.code === 'MPA_TICKET_STATE'))
  t.equal(confirms.length - won.length, 9)
  if (won[0]!.json.state !== 'confirmed') {
    t.equal(won[0]!.json.state, 'refused')
    return
  }
  const claims = await Promise.all(Array.from({ length: 6 }, (_, i) => pc.call(bases[i % 2]!, 'POST', `/auth/scan/tickets/${id}/session`)))
  t.same(claims.map((claim) => claim.status).sort(), [200, 409, 409, 409, 409, 409])
  t.equal((await world.call(apps[0]!, 'GET', '/auth/sessions', undefined, skey)).json.sessions.length, 2, 'one browser session, beside the phone\'s')
})

test('refused: the browser hears it, and cannot claim', async (t) => {
  const { world, apps: [app], bases: [base] } = await scanWorld(t, 'scan-refuse')
  const pc = new Browser()
  const { json: { id, poll, session } } = await pc.call(base!, 'POST', '/auth/scan/tickets')
  const skey = await phone(world, app!, 'o-refuser')
  await world.call(app!, 'POST', `${poll}/scanned`, undefined, skey)
  const waiting = pc.call(base!, 'GET', `${poll}?wait=10&state=scanned`)
  await sleep(100)
  t.same((await world.call(app!, 'POST', `/auth/scan/tickets/${id}/refuse`, undefined, skey)).json, { state: 'refused' })
  t.equal((await waiting).json.state, 'refused')
  t.equal((await pc.call(base!, 'POST', session)).json.code, 'MPA_TICKET_STATE')
  t.equal((await world.call(app!, 'POST', `${poll}/confirm`, undefined, skey)).json.code, 'MPA_TICKET_STATE')
})

test('long poll and event stream on one instance hear transitions made on another', async (t) => {
  const { world, apps, bases } = await scanWorld(t, 'scan-across')
  const pc = new Browser()
  const { json: { id, poll, events } } = await pc.call(bases[0]!, 'POST', '/auth/scan/tickets')
  const seen: string[] = []
  const stream = pc.events(bases[0]!, events, (data) => seen.push(data.state))
  const longPoll = pc.call(bases[0]!, 'GET', `${poll}?wait=20&state=waiting`)
  await sleep(200)
  t.same(seen, ['waiting'])
  const started = Date.now()
  const skey = await phone(world, apps[1]!, 'o-across')
  await world.call(apps[1]!, 'POST', `/auth/scan/tickets/${id}/scanned`, undefined, skey)
  t.equal((await longPoll).json.state, 'scanned')
  t.ok(Date.now() - started < 2000, 'at once, not at a poll interval')
  await world.call(apps[1]!, 'POST', `/auth/scan/tickets/${id}/confirm`, undefined, skey)
  t.equal(await stream, 200, 'the stream ends once the ticket is confirmed')
  t.same(seen, ['waiting', 'scanned', 'confirmed'])
  // A long poll that knows the state answers when its wait is up.
  const before = Date.now()
  t.equal((await pc.call(bases[1]!, 'GET', `${poll}?wait=1&state=confirmed`)).json.state, 'confirmed')
  t.ok(Date.now() - before >= 950)
})

test('a page that goes away ends its wait; closing the app answers the pages still waiting', async (t) => {
  const { apps: [app], bases: [base] } = await scanWorld(t, 'scan-away')
  const pc = new Browser()
  const { json: { poll, events } } = await pc.call(base!, 'POST', '/auth/scan/tickets')
  // The same browser in another tab, which leaves after the first event.
  const tab = new Browser()
  for (const [name, value] of pc.cookies) tab.cookies.set(name, value)
  const away = new AbortController()
  const gone = await tab.events(base!, events, () => away.abort(), away.signal).catch((error: Error) => error.name)
  t.equal(gone, 'AbortError', 'the page left after the first event')
  await tab.close()
  const waiting = pc.call(base!, 'GET', `${poll}?wait=30&state=waiting`)
  const streaming = pc.events(base!, events, () => {})
  await sleep(300)
  const started = Date.now()
  await app!.close()
  t.equal((await waiting).json.state, 'waiting', 'the long poll is answered with the state it has')
  t.equal(await streaming, 200, 'the stream ends')
  t.ok(Date.now() - started < 3000, `closed in ${Date.now() - started} ms, not at the end of the waits`)
})

test('expiry: a long poll and a stream hear it at the expiry, the phone gets 410', async (t) => {
  const { world, apps: [app], bases: [base] } = await scanWorld(t, 'scan-expiry', { ...SCAN, ticketTtl: '1s' })
  const pc = new Browser()
  const { json: { id, poll, events, expiresAt } } = await pc.call(base!, 'POST', '/auth/scan/tickets')
  const seen: string[] = []
  const [polled, streamed] = await Promise.all([
    pc.call(base!, 'GET', `${poll}?wait=20&state=waiting`),
    pc.events(base!, events, (data) => seen.push(data.state))
  ])
  t.equal(polled.json.state, 'expired')
  t.ok(Date.now() >= expiresAt && Date.now() < expiresAt + 1000)
  t.equal(streamed, 200)
  t.same(seen, ['waiting', 'expired'])
  const skey = await phone(world, app!, 'o-late')
  const late = await world.call(app!, 'POST', `/auth/scan/tickets/${id}/scanned`, undefined, skey)
  t.equal(late.statusCode, 410)
  t.equal(late.json.code, 'MPA_TICKET_EXPIRED')
})

test('a ticket id taken to another browser is of no use there', async (t) => {
  const { world, apps: [app], bases: [base] } = await scanWorld(t, 'scan-theft')
  const pc = new Browser()
  const thief = new Browser()
  const { json: { id, poll, events, session } } = await pc.call(base!, 'POST', '/auth/scan/tickets')
  // The thief has a binding cookie of its own (it asked for a ticket too), or none.
  await thief.call(base!, 'POST', '/auth/scan/tickets')
  for (const browser of [thief, new Browser()]) {
    const read = await browser.call(base!, 'GET', poll)
    t.equal(read.status, 403)
    t.equal(read.json.code, 'MPA_TICKET_BROWSER')
    t.equal(await browser.events(base!, events, () => t.fail('no event')), 403)
  }
  const skey = await phone(world, app!, 'o-victim')
  await world.call(app!, 'POST', `/auth/scan/tickets/${id}/scanned`, undefined, skey)
  await world.call(app!, 'POST', `/auth/scan/tickets/${id}/confirm`, undefined, skey)
  const stolen = await thief.call(base!, 'POST', session)
  t.equal(stolen.status, 403)
  t.equal(stolen.json.code, 'MPA_TICKET_BROWSER')
  t.notOk(thief.cookies.has('__Host-mpa_session'))
  t.equal((await pc.call(base!, 'POST', session)).status, 200, 'the ticket is still the owner\'s to claim')
  // Unknown and malformed ids.
  t.equal((await pc.call(base!, 'GET', '/auth/scan/tickets/AAAAAAAAAAAAAAAAAAAAAA')).json.code, 'MPA_TICKET_UNKNOWN')
  t.equal((await world.call(app!, 'POST', '/auth/scan/tickets/AAAAAAAAAAAAAAAAAAAAAA/scanned', undefined, skey)).statusCode, 404)
  t.equal((await pc.call(base!, 'GET', '/auth/scan/tickets/not-an-id')).status, 400)
  t.equal((await pc.call(base!, 'GET', `${poll}?wait=31`)).status, 400)
  t.equal((await world.call(app!, 'POST', `/auth/scan/tickets/${id}/confirm`)).json.code, 'MPA_SKEY_MISSING')
  world.assertNoSecrets(t)
})

test('WeChat\'s refusals of the code: the operator\'s to fix (500, logged), a quota (429)', async (t) => {
  const { world, bases: [base] } = await scanWorld(t, 'scan-wechat-errors')
  const pc = new Browser()
  world.sandbox.fail('getwxacodeunlimit', { errcode: 41030 })
  const misconfigured = await pc.call(base!, 'POST', '/auth/scan/tickets')
  t.equal(misconfigured.status, 500)
  t.equal(misconfigured.json.code, 'MPA_MISCONFIGURED')
  t.match(world.logs.text, /the page does not exist in the released version/)
  world.sandbox.fail('getwxacodeunlimit', { errcode: 45009 })
  t.equal((await pc.call(base!, 'POST', '/auth/scan/tickets')).json.code, 'MPA_UPSTREAM_RATE_LIMITED')
  // A stale token is replaced once, and the code drawn.
  world.sandbox.rotateToken()
  t.equal((await pc.call(base!, 'POST', '/auth/scan/tickets')).status, 200)
  world.assertNoSecrets(t)
})

test('the scanLogin option is checked at register, naming it', async (t) => {
  const world = await WechatWorld.create(t, 'scan-options')
  const cases: Array<[object, RegExp]> = [
    [{ ticketTtl: '11m' }, /scanLogin.ticketTtl must be at most 10 minutes/],
    [{ ticketTtl: 'soon' }, /scanLogin.ticketTtl must be a positive number/],
    [{ page: '/pages/scan/scan' }, /scanLogin.page must be a page path without a leading/],
    [{ envVersion: 'beta' }, /scanLogin.envVersion must be one of release, trial, develop/],
    [{ width: 100 }, /scanLogin.width must be an integer from 280 to 1280/],
    [{ checkPath: 'yes' }, /scanLogin.checkPath must be a boolean/],
    [{ appId: 'wx-unknown' }, /scanLogin.appId must be the AppID of one of the wechat apps/],
    [{ colour: 'red' }, /unknown option scanLogin.colour/]
  ]
  for (const [scanLogin, message] of cases) await t.rejects(world.build({ web: {}, scanLogin }), message)
  await t.rejects(world.build({ wechat: undefined, web: {}, scanLogin: true }), /scanLogin needs the wechat option/)
  await t.rejects(world.build({ scanLogin: true }), /scanLogin needs the web option/)
  await t.rejects(world.build({ web: {}, scanLogin: 'on' as never }), /scanLogin must be an object or true/)
  const app = await world.build({ web: {}, scanLogin: true })
  t.ok(app.hasRoute({ method: 'POST', url: '/auth/scan/tickets' }))
})

test('one session per platform: the browser\'s session does not replace the phone\'s (it is a wechat-scan session), and has its own rules', async (t) => {
  const world = await WechatWorld.create(t, 'scan-one-per-platform', { pages: ['pages/index/index', 'pages/scan/scan'] })
  const app = await world.build({ web: {}, scanLogin: SCAN, session: { onePerPlatform: true, platforms: { 'wechat-scan': { ttl: '2h' } } } })
  const base = await listening(app)
  const pc = new Browser()
  const { poll, session } = (await pc.call(base, 'POST', '/auth/scan/tickets')).json
  const skey = await phone(world, app, 'o-one-device')
  for (const step of ['scanned', 'confirm']) t.equal((await world.call(app, 'POST', `${poll}/${step}`, undefined, skey)).statusCode, 200, step)
  const claimed = await pc.call(base, 'POST', session)
  t.equal(claimed.status, 200)
  t.ok(claimed.json.expiresAt <= Date.now() + 2 * 3600_000 && claimed.json.expiresAt > Date.now() + 2 * 3600_000 - 60_000, 'the wechat-scan rule: 2 hours')
  t.equal((await world.call(app, 'GET', '/auth/session', undefined, skey)).statusCode, 200, 'the phone is still logged in')
  t.equal((await pc.call(base, 'GET', '/auth/session')).json.session.provider, 'wechat-scan')
})

test('a claimed browser session is a login as any other: the login event and onLogin', async (t) => {
  const world = await WechatWorld.create(t, 'scan-login-events', { pages: ['pages/index/index', 'pages/scan/scan'] })
  const onLogin: Array<{ provider: string, surface?: string, user: unknown }> = []
  const app = await world.build({ web: {}, scanLogin: SCAN, onLogin: (identity, session) => { onLogin.push({ provider: identity.provider, surface: identity.surface, user: session.user }) } })
  const base = await listening(app)
  const events: Array<{ provider: string, outcome: string }> = []
  const listen = (event: unknown) => { events.push(event as { provider: string, outcome: string }) }
  diagnostics.subscribe('fastify-miniprogram-auth:login', listen)
  t.teardown(() => diagnostics.unsubscribe('fastify-miniprogram-auth:login', listen))
  const pc = new Browser()
  const { poll, session } = (await pc.call(base, 'POST', '/auth/scan/tickets')).json
  const skey = await phone(world, app, 'o-events')
  for (const step of ['scanned', 'confirm']) await world.call(app, 'POST', `${poll}/${step}`, undefined, skey)
  t.equal((await pc.call(base, 'POST', session)).status, 200)
  await app.close()
  t.same(events.map(({ provider, outcome }) => [provider, outcome]), [['wechat', 'success'], ['wechat-scan', 'success']], 'the phone\'s login, then the browser\'s')
  t.same(onLogin.map(({ provider, surface }) => [provider, surface]), [['wechat', 'miniprogram'], ['wechat-scan', 'web']])
  t.same(onLogin[1]!.user, onLogin[0]!.user, 'the same user')
})
