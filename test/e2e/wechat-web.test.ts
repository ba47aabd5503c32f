import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { CHROMIUM, CHROMIUM_ARGS, chromiumTest } from '../helpers/chromium.js'
import { OAuthWorld } from '../helpers/wechat-oauth.js'
import { freePort } from '../helpers/redis.js'

// WeChat's website QR login (网站应用) in a real headless Chromium, against the
// OAuth sandbox's consent page: two instances of the app on one Redis, the
// browser's cookies as Chromium keeps them.

/** An instance listening on a port of its own, whose callback and landing page are on it. */
async function instance (world: OAuthWorld, stateTtl?: string): Promise<{ app: FastifyInstance, base: string }> {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const app = await world.build({ callbackBase: base, web: { redirects: [`${base}/landing`], ...(stateTtl ? { stateTtl } : {}) } }, (app) => {
    app.get('/landing', async (_request, reply) => reply.type('text/html').send('<!doctype html><title>landed</title><h1 id="landed">landed</h1>'))
  })
  await app.listen({ port, host: '127.0.0.1' })
  return { app, base }
}

/** Starts a login in `page` and leaves it on WeChat's consent page. */
async function startLogin (page: Page, base: string, redirect = `${base}/landing`) {
  const res = await page.goto(`${base}/auth/wechat-web/authorize?redirect=${encodeURIComponent(redirect)}`)
  return res
}

/** What the page's own script gets from a URL of the app, with its cookies. */
async function fetchJson (page: Page, url: string, init: { method?: string, headers?: Record<string, string> } = {}) {
  return page.evaluate(async ({ url, init }) => {
    const res = await fetch(url, { ...init, credentials: 'include' })
    const text = await res.text()
    return { status: res.status, body: text === '' ? {} : JSON.parse(text) as Record<string, any> }
  }, { url, init })
}

/** The JSON error the browser was shown. */
async function shownError (page: Page) {
  return JSON.parse(await page.locator('body').innerText()) as { statusCode: number, code: string }
}

chromiumTest('WeChat\'s website login in Chromium', async (t) => {
  const world = await OAuthWorld.create(t, 'e2e-wechat-web')
  const a = await instance(world)
  const b = await instance(world, '1s')
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())
  const newPage = async (): Promise<{ context: BrowserContext, page: Page }> => {
    const context = await browser.newContext()
    return { context, page: await context.newPage() }
  }

  await t.test('a full login lands on the allowed page with the session cookie', async (t) => {
    const { context, page } = await newPage()
    const callbacks: string[] = []
    page.on('request', (request) => { if (request.url().includes('/auth/wechat-web/callback')) callbacks.push(request.url()) })
    await startLogin(page, a.base)
    t.ok(page.url().startsWith(`${world.sandbox.url}/connect/qrconnect?`), 'on WeChat\'s consent page')
    await page.click('#approve-ann')
    await page.waitForURL(`${a.base}/landing`)
    t.equal(await page.locator('#landed').innerText(), 'landed')
    const session = (await context.cookies(a.base)).find(({ name }) => name === '__Host-mpa_session')
    t.ok(session, 'the session cookie')
    t.match(session, { httpOnly: true, secure: true, sameSite: 'Lax', path: '/', domain: '127.0.0.1' }, 'HttpOnly, Secure, SameSite=Lax, Path=/, this host only')
    t.ok(session!.expires > Date.now() / 1000 + 3600, 'it lasts (Max-Age)')
    t.notMatch(await page.evaluate('document.cookie'), /mpa_session/, 'no script reads it')
    const me = await fetchJson(page, `${a.base}/me`)
    t.equal(me.status, 200)
    t.equal(me.body.user.id, 'union-ann')
    t.equal(me.body.session.provider, 'wechat-web')
    const onB = await b.app.inject({ url: '/me', headers: { cookie: `__Host-mpa_session=${session!.value}` } })
    t.equal(onB.json().user.id, 'union-ann', 'the other instance knows the session')

    // The callback URL again (back button, a leaked link): the state is spent.
    t.equal(callbacks.length, 1)
    await page.goto(callbacks[0]!)
    t.same(await shownError(page), { statusCode: 400, code: 'MPA_OAUTH_STATE_INVALID', error: 'Bad Request', message: 'The login state is invalid, expired or already used: start the login again' })

    // Revoked on the other instance: this browser's cookie stops working at once.
    await b.app.sessions.revoke({ userId: 'union-ann' }, { reason: 'admin' })
    const after = await fetchJson(page, `${a.base}/me`)
    t.equal(after.status, 401)
    t.equal(after.body.code, 'MPA_SESSION_REVOKED')
    await context.close()
  })

  await t.test('the state from another browser is refused', async (t) => {
    const victim = await newPage()
    const attacker = await newPage()
    // The attacker starts a login, then gets the victim to open WeChat's page of it (a link).
    await startLogin(attacker.page, a.base)
    const consentUrl = attacker.page.url()
    await victim.page.goto(consentUrl)
    await victim.page.click('#approve-ann')
    await victim.page.waitForURL((url) => url.pathname === '/auth/wechat-web/callback')
    t.match(await shownError(victim.page), { statusCode: 403, code: 'MPA_OAUTH_STATE_INVALID' }, 'the victim\'s browser has another nonce')
    t.notOk((await victim.context.cookies(a.base)).some(({ name }) => name === '__Host-mpa_session'), 'no session for the victim')
    t.notOk((await attacker.context.cookies(a.base)).some(({ name }) => name === '__Host-mpa_session'), 'nor for the attacker')
    await victim.context.close()
    await attacker.context.close()
  })

  await t.test('open redirects are refused before WeChat is asked', async (t) => {
    const { context, page } = await newPage()
    const consentPages = world.sandbox.calls('qrconnect')
    for (const target of ['https://evil.example/', '//evil.example/', `${a.base}@evil.example/`, `${a.base.replace('127.0.0.1', 'localhost')}/landing`,
      'http://127.0.0.1:1/landing', `${a.base}/landing/../auth/session`, 'javascript:alert(document.cookie)', `${a.base}\\@evil.example/`]) {
      const res = await startLogin(page, a.base, target)
      t.equal(res?.status(), 400, target)
      t.equal((await shownError(page)).code, 'MPA_REDIRECT_REFUSED', target)
      t.ok(page.url().startsWith(`${a.base}/auth/wechat-web/authorize`), `${target}: the browser stayed`)
    }
    t.equal(world.sandbox.calls('qrconnect'), consentPages, 'WeChat\'s page was never asked')
    await context.close()
  })

  await t.test('refused consent, then an expired state', async (t) => {
    const { context, page } = await newPage()
    await startLogin(page, a.base)
    await page.click('#refuse')
    await page.waitForURL((url) => url.pathname === '/auth/wechat-web/callback')
    t.match(await shownError(page), { statusCode: 403, code: 'MPA_OAUTH_REFUSED' })

    await startLogin(page, b.base)
    await sleep(1200) // b's states live 1 s
    await page.click('#approve-bob')
    await page.waitForURL((url) => url.pathname === '/auth/wechat-web/callback')
    t.match(await shownError(page), { statusCode: 400, code: 'MPA_OAUTH_STATE_INVALID' }, 'past web.stateTtl')
    t.notOk((await context.cookies([a.base, b.base])).some(({ name }) => name === '__Host-mpa_session'))
    await context.close()
  })

  await t.test('logging out from the page ends the session and clears the cookie', async (t) => {
    const { context, page } = await newPage()
    await startLogin(page, a.base)
    await page.click('#approve-bob')
    await page.waitForURL(`${a.base}/landing`)
    t.equal((await fetchJson(page, `${a.base}/auth/web/logout`, { method: 'POST' })).body.code, 'MPA_CSRF_REFUSED', 'a bare post is what a form could send')
    t.equal((await fetchJson(page, `${a.base}/auth/web/logout`, { method: 'POST', headers: { 'x-requested-with': 'fetch' } })).status, 204)
    t.notOk((await context.cookies(a.base)).some(({ name }) => name === '__Host-mpa_session'), 'the cookie is gone')
    t.equal((await fetchJson(page, `${a.base}/me`)).body.code, 'MPA_SKEY_MISSING')
    await context.close()
  })
  world.assertNoSecrets(t)
})
