import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type Page } from 'playwright-core'
import { CHROMIUM, CHROMIUM_ARGS, chromiumTest } from '../helpers/chromium.js'
import { WechatWorld } from '../helpers/wechat.js'
import { freePort } from '../helpers/redis.js'

// Scan login in a real headless Chromium: the PC page's own script asks for
// a ticket, waits and claims its session, with the cookies as Chromium keeps
// them; the phone confirms over HTTP, on two instances of the app at once.

const SCAN = { page: 'pages/scan/scan' }

/** An instance listening on a port of its own, with a PC page to run the login's script in. */
async function instance (world: WechatWorld, ticketTtl?: string): Promise<{ app: FastifyInstance, base: string }> {
  const port = await freePort()
  const app = await world.build({ web: {}, scanLogin: { ...SCAN, ...(ticketTtl ? { ticketTtl } : {}) } }, (app) => {
    app.get('/pc', async (_request, reply) => reply.type('text/html').send('<!doctype html><title>PC</title><h1>PC</h1>'))
  })
  await app.listen({ port, host: '127.0.0.1' })
  return { app, base: `http://127.0.0.1:${port}` }
}

/** What the page's own script gets from a URL of the app, with its cookies. */
async function fetchJson (page: Page, url: string, method = 'GET') {
  return page.evaluate(async ({ url, method }) => {
    const res = await fetch(url, { method, credentials: 'include' })
    const text = await res.text()
    return { status: res.status, body: text === '' ? {} : JSON.parse(text) as Record<string, any> }
  }, { url, method })
}

/** The next state the page's EventSource hears after `from`. */
async function nextEvent (page: Page, url: string, from: string): Promise<string> {
  return page.evaluate(async ({ url, from }) => new Promise<string>((resolve, reject) => {
    const source = new EventSource(url)
    source.onmessage = (event) => {
      const { state } = JSON.parse(event.data) as { state: string }
      if (state !== from) { source.close(); resolve(state) }
    }
    source.onerror = () => { source.close(); reject(new Error('the event stream failed')) }
  }), { url, from })
}

chromiumTest('scan login in Chromium', async (t) => {
  const world = await WechatWorld.create(t, 'e2e-scan', { pages: ['pages/index/index', 'pages/scan/scan'] })
  const a = await instance(world)
  const b = await instance(world)
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())
  const pcPage = async (base: string): Promise<Page> => {
    const page = await (await browser.newContext()).newPage()
    await page.goto(`${base}/pc`)
    return page
  }

  await t.test('confirmed on two instances at once: one confirmation wins, the PC hears it and gets its own HttpOnly session', async (t) => {
    const pc = await pcPage(a.base)
    const ticket = await fetchJson(pc, `${a.base}/auth/scan/tickets`, 'POST')
    t.equal(ticket.status, 200)
    const { id, poll, events, session } = ticket.body
    const heard = nextEvent(pc, `${a.base}${events}`, 'waiting')
    const { skey } = await world.login(a.app, 'o-e2e-scan')
    t.equal((await world.call(b.app, 'POST', `${poll}/scanned`, undefined, skey)).statusCode, 200)
    t.equal(await heard, 'scanned', 'the stream on A hears the scan made on B')
    const confirmed = nextEvent(pc, `${a.base}${events}`, 'scanned')
    const confirms = await Promise.all([a.app, b.app, a.app, b.app].map((app) => world.call(app, 'POST', `/auth/scan/tickets/${id as string}/confirm`, undefined, skey)))
    t.same(confirms.map(({ statusCode }) => statusCode).sort(), [200, 409, 409, 409], 'one confirmation, across both instances')
    t.equal(await confirmed, 'confirmed')

    const claimed = await fetchJson(pc, `${a.base}${session as string}`, 'POST')
    t.equal(claimed.status, 200)
    const cookie = (await pc.context().cookies(a.base)).find(({ name }) => name === '__Host-mpa_session')
    t.match(cookie, { httpOnly: true, secure: true, sameSite: 'Lax', path: '/' }, 'HttpOnly, Secure, SameSite=Lax')
    t.notMatch(await pc.evaluate('document.cookie'), /mpa_session/, 'no script reads it')
    const me = await fetchJson(pc, `${a.base}/auth/session`)
    t.equal(me.status, 200)
    t.equal(me.body.session.provider, 'wechat-scan')
    t.equal((await fetchJson(pc, `${a.base}${session as string}`, 'POST')).body.code, 'MPA_TICKET_STATE', 'claimed once')
  })

  await t.test('a ticket id taken to another browser is useless there', async (t) => {
    const owner = await pcPage(a.base)
    const thief = await pcPage(a.base)
    const { poll, session } = (await fetchJson(owner, `${a.base}/auth/scan/tickets`, 'POST')).body
    for (const [method, path] of [['GET', poll], ['GET', `${poll as string}/events`], ['POST', session]] as const) {
      const stolen = await fetchJson(thief, `${a.base}${path as string}`, method)
      t.equal(stolen.status, 403, `${method} ${path as string}`)
      t.equal(stolen.body.code, 'MPA_TICKET_BROWSER')
    }
    t.equal((await fetchJson(owner, `${a.base}${poll as string}`)).body.state, 'waiting', 'the owner\'s ticket is untouched')
  })

  await t.test('an expired ticket: the waiting page is told, the phone gets 410', async (t) => {
    const short = await instance(world, '1s')
    const pc = await pcPage(short.base)
    const { poll, events } = (await fetchJson(pc, `${short.base}/auth/scan/tickets`, 'POST')).body
    t.equal(await nextEvent(pc, `${short.base}${events as string}`, 'waiting'), 'expired', 'the stream says so at the expiry')
    const { skey } = await world.login(short.app, 'o-e2e-late')
    const late = await world.call(short.app, 'POST', `${poll as string}/scanned`, undefined, skey)
    t.equal(late.statusCode, 410)
    t.equal(late.json.code, 'MPA_TICKET_EXPIRED')
  })
})
