import { test } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { DemoExit, isLoopback, projectRoot, startDemo } from '../../examples/demo/app.js'
import { connectRedis } from '../../examples/demo/redis.js'
import { generateRsaKeyPair } from '../../sandbox/index.js'
import { freePort, REDIS_URL, testRedis } from '../helpers/redis.js'

// The documented API: every route of the plugin and of the demo. The
// simulator's /demo/* routes stand in for the phone and stay out of the docs.
const API = [
  'POST /auth/wechat/login', 'POST /auth/wechat/userinfo', 'POST /auth/wechat/phone', 'POST /auth/alipay/login', 'POST /auth/alipay/phone',
  'POST /auth/douyin/login', 'POST /auth/douyin/userinfo', 'POST /auth/douyin/phone', 'POST /auth/qq/login', 'POST /auth/qq/userinfo',
  'POST /auth/wecom/login', 'POST /auth/kuaishou/login', 'POST /auth/kuaishou/userinfo', 'POST /auth/kuaishou/phone',
  'POST /auth/baidu/login', 'POST /auth/baidu/userinfo', 'POST /auth/baidu/phone',
  'GET /auth/session', 'DELETE /auth/session', 'GET /auth/sessions', 'DELETE /auth/sessions', 'DELETE /auth/sessions/{id}',
  // The browser surfaces: the web logout, scan login and web-view tickets.
  'POST /auth/web/logout', 'POST /auth/scan/tickets', 'GET /auth/scan/tickets/{id}', 'GET /auth/scan/tickets/{id}/events', 'POST /auth/scan/tickets/{id}/session',
  'POST /auth/scan/tickets/{id}/scanned', 'POST /auth/scan/tickets/{id}/confirm', 'POST /auth/scan/tickets/{id}/refuse',
  'POST /auth/webview/tickets', 'GET /auth/webview',
  'GET /api/profile', 'POST /api/orders'
]

interface Operation {
  security?: unknown[]
  responses: Record<string, { description?: string, content?: { 'application/json'?: { schema?: { properties?: Record<string, unknown> } } } }>
}

test('the demo serves the page, the client module and OpenAPI docs of every route, then closes', async (t) => {
  const { prefix: keyPrefix } = testRedis(t, 'demo')
  const demo = await startDemo({ port: 0, keyPrefix, redis: { url: REDIS_URL } })
  t.same(demo.modes, { wechat: 'sandbox', alipay: 'sandbox', douyin: 'sandbox', qq: 'sandbox', wecom: 'sandbox', kuaishou: 'sandbox', baidu: 'sandbox' }, 'no credentials: every platform\'s sandbox')
  t.match(demo.redisDescription, /\(REDIS_URL\)/)

  const page = await fetch(`${demo.url}/`)
  t.equal(page.status, 200)
  t.match(await page.text(), /<script type="module" src="\/simulator.js">/)
  for (const asset of ['/simulator.js', '/shim.js', '/style.css']) t.equal((await fetch(demo.url + asset)).status, 200, asset)
  const client = await fetch(`${demo.url}/client/index.js`)
  t.match(client.headers.get('content-type'), /javascript/)
  const clientSource = await client.text()
  t.match(clientSource, /^export (function createAuthClient\b|\{[^}]*\bcreateAuthClient\b)/m, 'the helper, as an ES module for the browser')
  t.notMatch(clientSource, /: string|interface /, 'with the types stripped')

  t.equal((await fetch(`${demo.url}/docs`, { redirect: 'follow' })).status, 200, 'Swagger UI')
  const docs = await (await fetch(`${demo.url}/docs/json`)).json() as { openapi: string, paths: Record<string, Record<string, Operation>> }
  t.match(docs.openapi, /^3\./)
  const listed = Object.entries(docs.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
  t.same(listed.toSorted(), API.toSorted(), 'every API route, and only those')
  for (const [path, operations] of Object.entries(docs.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const name = `${method.toUpperCase()} ${path}`
      const errorReplies = Object.entries(operation.responses).filter(([status]) => Number(status) >= 400)
      t.ok(errorReplies.some(([status]) => status === '503'), `${name}: 503 when Redis is down`)
      t.ok(errorReplies.every(([, reply]) => reply.content?.['application/json']?.schema?.properties?.code), `${name}: every error reply has its code`)
      t.equal(operation.security !== undefined, !path.endsWith('/login'), `${name}: ${path.endsWith('/login') ? 'no skey' : 'needs the skey'}`)
    }
  }

  const config = await (await fetch(`${demo.url}/demo/config`)).json() as { platforms: Record<string, { mode: string, users: Array<{ label: string }> }> }
  t.ok(config.platforms.wechat?.users.some((user) => /\p{Extended_Pictographic}/u.test(user.label)), 'a sandbox user with an emoji nickname')

  await demo.close()
  await t.rejects(fetch(`${demo.url}/`), 'the server is closed')
  t.equal(demo.sandboxes.wechat?.calls('jscode2session'), 0)
  await t.rejects(fetch(`${demo.sandboxes.wechat?.url}/sns/jscode2session`), 'the WeChat sandbox is closed')
  await t.rejects(fetch(demo.sandboxes.alipay?.url ?? ''), 'the Alipay sandbox is closed')
  await t.rejects(fetch(demo.sandboxes.douyin?.url ?? ''), 'the Douyin sandbox is closed')
  await t.rejects(fetch(demo.sandboxes.qq?.url ?? ''), 'the QQ sandbox is closed')
})

test('with credentials in the environment, the platforms are the real ones', async (t) => {
  const appKeys = generateRsaKeyPair()
  const alipayKeys = generateRsaKeyPair()
  const demo = await startDemo({
    port: 0,
    keyPrefix: testRedis(t, 'demo-real').prefix,
    redis: { url: REDIS_URL },
    env: {
      WECHAT_APP_ID: 'wx0123456789abcdef',
      WECHAT_APP_SECRET: 'a-real-looking-secret',
      ALIPAY_APP_ID: '2021000123456789',
      ALIPAY_PRIVATE_KEY: appKeys.privateKey,
      ALIPAY_PUBLIC_KEY: alipayKeys.publicKey,
      DOUYIN_APP_ID: 'tt0123456789abcdef',
      DOUYIN_APP_SECRET: 'a-real-looking-douyin-secret',
      QQ_APP_ID: '1112345678',
      QQ_APP_SECRET: 'a-real-looking-qq-secret',
      WECOM_APP_ID: 'wx00000000000wecom',
      WECOM_CORP_ID: 'ww00000000000corp1',
      WECOM_APP_SECRET: 'a-real-looking-wecom-secret',
      KUAISHOU_APP_ID: 'ks0000000000000001',
      KUAISHOU_APP_SECRET: 'a-real-looking-kuaishou-secret',
      BAIDU_APP_ID: 'realBaiduAppKey00000000000000001',
      BAIDU_APP_SECRET: 'a-real-looking-baidu-secret'
    }
  })
  t.teardown(() => demo.close())
  t.same(demo.modes, { wechat: 'real', alipay: 'real', douyin: 'real', qq: 'real', wecom: 'real', kuaishou: 'real', baidu: 'real' })
  t.same(demo.sandboxes, { wechat: undefined, alipay: undefined, douyin: undefined, qq: undefined, wecom: undefined, kuaishou: undefined, baidu: undefined }, 'no sandbox started')
  const config = await (await fetch(`${demo.url}/demo/config`)).json()
  t.match(config, { platforms: { wechat: { mode: 'real', appId: 'wx0123456789abcdef', users: [] }, alipay: { mode: 'real', appId: '2021000123456789', users: [] } } })
  t.match(config, { platforms: { douyin: { mode: 'real', appId: 'tt0123456789abcdef', users: [] }, qq: { mode: 'real', appId: '1112345678', users: [] } } })
  t.notMatch(JSON.stringify(config), /a-real-looking|PRIVATE/, 'no secret in the page config')
  t.equal((await fetch(`${demo.url}/demo/wechat/code`, { method: 'POST' })).status, 404, 'no code minting against the real WeChat')
})

test('the new panes\' steps, as the page runs them: WeCom, Kuaishou and Baidu logins, their user info and phones, Douyin\'s phone code', async (t) => {
  const demo = await startDemo({ port: 0, keyPrefix: testRedis(t, 'demo-panes').prefix, redis: { url: REDIS_URL } })
  t.teardown(() => demo.close())
  const call = async (url: string, payload: object, skey?: string) => {
    const reply = await demo.app.inject({ method: 'POST', url, payload, ...(skey ? { headers: { 'x-skey': skey } } : {}) })
    return { status: reply.statusCode, json: reply.json<Record<string, any>>() }
  }
  const wecom = await call('/auth/wecom/login', { code: (await call('/demo/wecom/code', { user: 'zhang' })).json.code })
  t.equal(wecom.status, 200, 'wx.qy.login, then POST /auth/wecom/login')
  for (const [platform, user, phone] of [['kuaishou', 'kai', '13600136000'], ['baidu', 'bai', '13500135000']] as const) {
    const { json: { skey } } = await call(`/auth/${platform}/login`, { code: (await call(`/demo/${platform}/code`, { user })).json.code })
    const { encryptedData, iv, userInfo } = (await call(`/demo/${platform}/userinfo`, { user })).json
    t.same((await call(`/auth/${platform}/userinfo`, { encryptedData, iv }, skey)).json, userInfo, `${platform}: the user info`)
    t.match((await call(`/auth/${platform}/phone`, (await call(`/demo/${platform}/phone`, { user })).json, skey)).json, { purePhoneNumber: phone }, `${platform}: the phone`)
  }
  const { json: codes } = await call('/demo/douyin/login', { user: 'dora' })
  const { json: { skey } } = await call('/auth/douyin/login', { code: codes.code, anonymousCode: codes.anonymousCode })
  t.match((await call('/auth/douyin/phone', (await call('/demo/douyin/phone', { user: 'dora' })).json, skey)).json, { purePhoneNumber: '13900139000' }, 'Douyin: the phone by code')
})

test('the simulator: a 4xx that says what to do for a step out of order, and only for this machine', async (t) => {
  const demo = await startDemo({ port: 0, keyPrefix: testRedis(t, 'demo-sim').prefix, redis: { url: REDIS_URL } })
  t.teardown(() => demo.close())
  const post = async (path: string, user: string, remoteAddress?: string) => {
    const reply = await demo.app.inject({ method: 'POST', url: path.startsWith('/') ? path : `/demo/wechat/${path}`, payload: { user }, ...(remoteAddress ? { remoteAddress } : {}) })
    return { status: reply.statusCode, message: reply.json<{ message?: string }>().message }
  }

  t.match(await post('userinfo', 'bob'), { status: 409, message: /^Tap wx\.login or Log in first: WeChat gives this only once Bob has run wx\.login\.$/ }, 'user info before wx.login')
  t.match(await post('phone-code', 'alice'), { status: 409, message: /^Tap wx\.login or Log in first/ }, 'a phone number before wx.login')
  t.match(await post('phone-code', 'bob'), { status: 400, message: /^Bob has no phone number: pick another user/ }, 'a user without a phone')
  t.match(await post('code', 'nobody'), { status: 404 })
  t.equal((await post('code', 'bob')).status, 200)
  t.equal((await post('userinfo', 'bob')).status, 200, 'after wx.login: the user info')
  t.equal((await post('phone-code', 'bob')).status, 400, 'still no phone')
  t.equal((await post('code', 'alice')).status, 200)
  t.equal((await post('phone-code', 'alice')).status, 200, 'after wx.login: the phone code')

  t.match(await post('/demo/douyin/phone', 'dora'), { status: 409, message: /^Tap tt\.login or Log in first: Douyin gives this only once Dora 抖音 has run tt\.login\.$/ })
  t.match(await post('/demo/douyin/userinfo', 'guest'), { status: 400, message: /^guest is not logged in to Douyin: a device, not a user, with no user info or phone number\.$/ })
  t.equal((await post('/demo/douyin/login', 'guest')).status, 200, 'the guest gets an anonymousCode')
  t.equal((await post('/demo/douyin/login', 'dora')).status, 200)
  t.equal((await post('/demo/douyin/phone', 'dora')).status, 200, 'after tt.login: the phone code')
  t.match(await post('/demo/douyin/phone', 'panda'), { status: 400, message: /has no phone number/ })
  t.match(await post('/demo/qq/userinfo', 'quinn'), { status: 409, message: /^Tap qq\.login or Log in first: QQ gives this only once Quinn QQ has run qq\.login\.$/ })
  t.equal((await post('/demo/qq/code', 'quinn')).status, 200)
  t.equal((await post('/demo/qq/userinfo', 'quinn')).status, 200, 'after qq.login: the user info')
  t.match(await post('/demo/kuaishou/phone', 'kai'), { status: 409, message: /^Tap ks\.login or Log in first: Kuaishou gives this only once Kai 快手 has run ks\.login\.$/ })
  t.match(await post('/demo/baidu/userinfo', 'bai'), { status: 409, message: /^Tap swan\.getLoginCode or Log in first/ })
  t.match(await post('/demo/wecom/code', 'nobody'), { status: 404 })

  // What the code comment promises, whatever HOST is: codes only for this machine.
  for (const remoteAddress of ['192.0.2.7', '2001:db8::7', '::ffff:192.0.2.7']) {
    t.match(await post('code', 'alice', remoteAddress), { status: 403, message: /^The simulator answers only on the machine that runs the demo/ }, `no code for ${remoteAddress}`)
  }
  const fromAfar = (url: string) => demo.app.inject({ url, remoteAddress: '192.0.2.7' }).then((reply) => reply.statusCode)
  t.equal(await fromAfar('/demo/config'), 403, 'the page says why instead of showing dead phones')
  t.equal(await fromAfar('/api/profile'), 401, 'the API itself is not the simulator: the usual 401')
  t.equal(await fromAfar('/'), 200)
  for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) t.ok(isLoopback(address), `${address} is loopback`)
  for (const address of ['0.0.0.0', '::', '10.0.0.1', '127.0.0.1.example.com', undefined]) t.notOk(isLoopback(address), `${address} is not`)
})

test('projectRoot: the folder with package.json, or a clear error at the filesystem root', async (t) => {
  t.equal(projectRoot(), fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, ''))
  const lost = mkdtempSync(join(tmpdir(), 'mpa-no-package-'))
  t.teardown(() => rmSync(lost, { recursive: true, force: true }))
  t.throws(() => projectRoot(lost), new DemoExit(`No package.json in ${lost} or any folder above it: run the demo from inside the fastify-miniprogram-auth project.`))
})

test('Redis: REDIS_URL, else the local one, else a private redis-server, else a message', async (t) => {
  const deadUrl = `redis://127.0.0.1:${await freePort()}`

  await t.test('REDIS_URL that does not answer: a message, no fallback', async (t) => {
    const err = await connectRedis({ url: deadUrl.replace('//', '//user:hunter2@') }).catch((err: unknown) => err)
    t.type(err, DemoExit)
    t.match((err as Error).message, /^REDIS_URL is redis:\/\/user:\*\*\*@127\.0\.0\.1:\d+\/? but no Redis answers there/)
    t.notMatch((err as Error).message, /hunter2/, 'the password is not printed')
  })

  await t.test('the default URL answers', async (t) => {
    const connection = await connectRedis({ defaultUrl: REDIS_URL })
    t.teardown(() => connection.close())
    t.equal(await connection.redis.ping(), 'PONG')
    t.match(connection.description, /^Redis at redis:\/\//)
  })

  await t.test('nothing answers: a private redis-server, stopped on close', async (t) => {
    const connection = await connectRedis({ defaultUrl: deadUrl })
    t.match(connection.description, /^a private redis-server at redis:\/\/127\.0\.0\.1:\d+ \(nothing answered at/)
    t.equal(await connection.redis.ping(), 'PONG')
    t.equal(await connection.redis.config('GET', 'save').then((reply) => reply[1]), '', 'no persistence')
    const url = /redis:\/\/127\.0\.0\.1:\d+/.exec(connection.description)![0]
    await connection.close()
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
    probe.on('error', () => {})
    await t.rejects(probe.connect(), 'the private server is gone')
    probe.disconnect()
  })

  await t.test('nothing answers and no redis-server: how to get Redis', async (t) => {
    const err = await connectRedis({ defaultUrl: deadUrl, redisServer: 'no-such-redis-server' }).catch((err: unknown) => err)
    t.type(err, DemoExit)
    t.match((err as Error).message, /The demo needs Redis: nothing answers at .* and there is no no-such-redis-server on the PATH to start one\. Start one/)
  })
})
