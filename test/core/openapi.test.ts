import t, { test } from 'tap'
import { readFileSync } from 'node:fs'
import fastifySwagger from '@fastify/swagger'
import { errorCodes, type FastifyInstance } from 'fastify'
import * as errors from '../../errors.js'
import { startDemo } from '../../examples/demo/app.js'
import { createQqSandbox } from '../../sandbox/qq.js'
import { createBaiduSandbox, createKuaishouSandbox, createWecomSandbox } from '../../sandbox/index.js'
import { PlatformsWorld } from '../helpers/platforms.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'

// The OpenAPI document @fastify/swagger builds from our route schemas: every
// error reply lists the codes the route answers with that status, every
// success reply says what it is.

const WECHAT_APP = { appId: 'wx00000000000oapi1', appSecret: 'secret-of-the-openapi-test-0123456789' }
const ALIPAY_APP_ID = '2021000000000oapi'
const QQ_APP = { appId: '1110000000', appSecret: 'secret-of-the-openapi-qq-test-0123456789' }

interface Operation { responses: Record<string, { description: string, content?: Record<string, { schema: any }> }> }
type Paths = Record<string, Record<string, Operation>>

// QQ answers from its sandbox; created first, closed last (after the apps).
const qqSandbox = await createQqSandbox({ apps: { [QQ_APP.appId]: QQ_APP.appSecret } })
// And WeCom, Kuaishou and Baidu from theirs.
const KUAISHOU_APP = { appId: 'ks0000000000openapi', appSecret: 'secret-of-the-openapi-kuaishou-test-0123' }
const BAIDU_APP = { appId: 'baiduOpenapiAppKey0000000000001', appSecret: 'secret-of-the-openapi-baidu-test-0123' }
const WECOM_APP = { appId: 'wx000000000openapi', corpId: 'ww0000000000openapi', appSecret: 'secret-of-the-openapi-wecom-test-0123' }
const kuaishouSandbox = await createKuaishouSandbox({ apps: { [KUAISHOU_APP.appId]: KUAISHOU_APP.appSecret } })
const baiduSandbox = await createBaiduSandbox({ apps: { [BAIDU_APP.appId]: BAIDU_APP.appSecret } })
const wecomSandbox = await createWecomSandbox({ corps: { [WECOM_APP.corpId]: WECOM_APP.appSecret } })
const sandboxes = [qqSandbox, kuaishouSandbox, baiduSandbox, wecomSandbox]
// WeChat's OAuth logins: refused before any call reaches a platform (nothing listens there).
const OAUTH_APP = { appSecret: 'secret-of-the-openapi-oauth-test-0123', baseUrl: 'http://127.0.0.1:9', authorizeUrl: 'http://127.0.0.1:9' }
t.teardown(() => Promise.all(sandboxes.map((sandbox) => sandbox.close())))
const world = await PlatformsWorld.create(t, 'openapi', WECHAT_APP, ALIPAY_APP_ID)
world.watch(() => sandboxes.flatMap((sandbox) => sandbox.secrets()))
// What each of our routes answered during the test: route, status, code.
const answered: Array<{ method: string, url: string, status: number, code: string }> = []
// Douyin and QQ too: QQ through its sandbox; Douyin's calls here are refused before any reaches it.
const app: FastifyInstance = await world.build({
  rateLimit: { max: 1000 },
  douyin: { appId: 'tt0123456789abcdef01', appSecret: 'not-a-secret-douyin-knows' },
  qq: { ...QQ_APP, baseUrl: qqSandbox.url, timeout: '2s' },
  kuaishou: { ...KUAISHOU_APP, baseUrl: kuaishouSandbox.url },
  baidu: { ...BAIDU_APP, baseUrl: baiduSandbox.url },
  wecom: { ...WECOM_APP, baseUrl: wecomSandbox.url },
  // The link routes, the browser's logout and logins, the mobile app's login.
  linkIdentity: () => {},
  web: { redirects: ['https://app.example.com/'] },
  wechatOa: { ...OAUTH_APP, appId: 'wx0000000000oapioa', callbackUrl: 'https://api.example.com/auth/wechat-oa/callback' },
  wechatWeb: { ...OAUTH_APP, appId: 'wx000000000oapiweb', callbackUrl: 'https://api.example.com/auth/wechat-web/callback' },
  wechatApp: { appSecret: OAUTH_APP.appSecret, baseUrl: OAUTH_APP.baseUrl, appId: 'wx000000000oapiapp' },
  scanLogin: true,
  webview: true,
  before: async (app) => {
    await app.register(fastifySwagger, { openapi: { info: { title: 'test', version: '0.0.0' } } })
    app.addHook('onSend', async (request, reply, payload) => {
      if (reply.statusCode >= 400 && typeof payload === 'string' && request.routeOptions.url?.startsWith('/auth/')) {
        answered.push({ method: request.method, url: request.routeOptions.url, status: reply.statusCode, code: JSON.parse(payload).code })
      }
      return payload
    })
  }
})
const paths = (app.swagger() as unknown as { paths: Paths }).paths
const ours = Object.entries(paths).filter(([path]) => path.startsWith('/auth/'))
  .flatMap(([path, operations]) => Object.entries(operations).map(([method, operation]) => ({ path, method, operation })))

/** The statuses of every code a route may document: ours and Fastify's (MPA_OAUTH_STATE_INVALID has two). */
const statusOf = new Map<string, number[]>()
for (const { code, statusCode = 500 } of [
  ...Object.values(errors).map((ErrorClass) => new ErrorClass()),
  ...Object.values(errorCodes).map((ErrorClass) => new (ErrorClass as unknown as new () => { code: string, statusCode: number })())
]) statusOf.set(code, [...statusOf.get(code) ?? [], statusCode])

const codesOf = (operation: Operation, status: number): string[] => operation.responses[status]?.content?.['application/json']?.schema.properties.code.enum ?? []

test('every route of ours is documented with a described success reply', async (t) => {
  t.ok(ours.length >= 14, `${ours.length} operations`)
  t.ok(ours.some(({ path }) => path === '/auth/douyin/phone') && ours.some(({ path }) => path === '/auth/qq/login'), 'Douyin and QQ included')
  for (const path of ['/auth/wecom/login', '/auth/kuaishou/login', '/auth/kuaishou/phone', '/auth/baidu/login', '/auth/baidu/userinfo']) t.ok(paths[path], `${path} included`)
  for (const platform of ['wechat', 'alipay', 'douyin', 'qq', 'wecom', 'kuaishou', 'baidu']) t.ok(paths[`/auth/${platform}/link`]?.post, `/auth/${platform}/link included`)
  t.ok(paths['/auth/web/logout']?.post, '/auth/web/logout included')
  for (const { path, method, operation } of ours) {
    const success = operation.responses['200'] ?? operation.responses['204'] ?? operation.responses['302']
    t.ok(success, `${method} ${path} has a success reply`)
    t.ok(success!.description && success!.description !== 'Default Response', `${method} ${path}: "${success!.description}"`)
  }
})

test('every error reply lists its codes as an enum, each of that status', async (t) => {
  for (const { path, method, operation } of ours) {
    const statuses = Object.keys(operation.responses).map(Number).filter((status) => status >= 400)
    t.ok(statuses.length > 0, `${method} ${path} documents at least one error status`)
    for (const status of statuses) {
      const codes = codesOf(operation, status)
      t.ok(codes.length > 0, `${method} ${path} ${status}: ${codes.join(', ')}`)
      t.same(codes.filter((code) => !statusOf.get(code)?.includes(status)), [], `${method} ${path} ${status}: every code is a ${status}`)
    }
  }
  const op = (path: string, method: string) => paths[path]![method]!
  t.same(codesOf(op('/auth/wechat/login', 'post'), 401), ['MPA_CODE_INVALID'], 'a login route has no skey to refuse')
  t.same(codesOf(op('/auth/session', 'get'), 401), ['MPA_SKEY_MISSING', 'MPA_SKEY_MALFORMED', 'MPA_SESSION_EXPIRED', 'MPA_SESSION_REPLACED', 'MPA_SESSION_REVOKED', 'MPA_SESSION_BANNED'])
  t.same(codesOf(op('/auth/sessions/{id}', 'delete'), 404), ['MPA_SESSION_NOT_FOUND'])
  t.ok(codesOf(op('/auth/wechat/login', 'post'), 400).includes('FST_ERR_VALIDATION'), 'Fastify\'s own 400 is listed where a body is checked')
  t.ok(codesOf(op('/auth/wechat/userinfo', 'post'), 403).includes('MPA_WRONG_PROVIDER'))
  t.notOk(op('/auth/session', 'get').responses['400'], 'no body, no 400')
  t.same(codesOf(op('/auth/wechat/link', 'post'), 409), ['MPA_LOGIN_IN_PROGRESS', 'MPA_IDENTITY_IN_USE'])
  t.ok(codesOf(op('/auth/wechat/link', 'post'), 401).includes('MPA_SKEY_MISSING') && codesOf(op('/auth/wechat/link', 'post'), 401).includes('MPA_CODE_INVALID'),
    'a link has a session and a code to refuse')
  t.same(codesOf(op('/auth/web/logout', 'post'), 403), ['MPA_CSRF_REFUSED'])
  t.same(codesOf(op('/auth/wechat-oa/callback', 'get'), 403), ['MPA_OAUTH_STATE_INVALID', 'MPA_OAUTH_REFUSED', 'MPA_USER_BANNED'])
  t.ok(codesOf(op('/auth/wechat-web/authorize', 'get'), 400).includes('MPA_REDIRECT_REFUSED'))
  for (const path of ['/auth/wechat-oa/authorize', '/auth/wechat-oa/callback', '/auth/wechat-web/authorize', '/auth/wechat-web/callback']) {
    t.ok(op(path, 'get').responses['302']?.description, `${path}: its redirect is described`)
  }
  t.ok(op('/auth/wechat-app/login', 'post') && op('/auth/wechat-app/link', 'post'), 'the mobile app logs in and links')
})

test('what the routes answer is what the document lists', async (t) => {
  const wechat = (await world.post(app, '/auth/wechat/login', { code: world.wechat.issueCode({ openId: 'o-openapi' }) })).json.skey
  const alipay = (await world.post(app, '/auth/alipay/login', { authCode: world.alipay.issueAuthCode({ openId: 'a-openapi' }) })).json.skey
  const kuaishou = (await world.post(app, '/auth/kuaishou/login', { code: kuaishouSandbox.login({ openId: 'k-openapi' }).code })).json.skey
  const { skey: douyin } = await app.sessions.create({ provider: 'douyin', appId: 'tt0123456789abcdef01', openId: 'd-openapi' }, { user: { id: 'd' } })
  const requests: Array<[string, string, object | undefined, string | undefined]> = [
    ['POST', '/auth/wechat/login', { code: 'bad-code-0001' }, undefined],
    ['POST', '/auth/wechat/login', { code: 'c', appId: 'wx-other' }, undefined],
    ['POST', '/auth/wechat/login', { code: 1 }, undefined],
    ['POST', '/auth/alipay/login', { authCode: 'bad-code-0002' }, undefined],
    ['GET', '/auth/session', undefined, undefined],
    ['GET', '/auth/session', undefined, 'not-an-skey'],
    ['GET', '/auth/sessions', undefined, 'A'.repeat(43)],
    ['DELETE', '/auth/sessions/0123456789abcdef0123456789abcdef', undefined, wechat],
    ['DELETE', '/auth/sessions/nope', undefined, wechat],
    ['POST', '/auth/wechat/userinfo', { encryptedData: 'AAAA', iv: 'AAAA' }, alipay],
    ['POST', '/auth/wechat/userinfo', { encryptedData: 'AAAA', iv: 'AAAA' }, wechat],
    ['POST', '/auth/wechat/phone', { code: 'bad phone code' }, wechat],
    ['POST', '/auth/wechat/phone', { code: 'badPhoneCode' }, wechat],
    ['POST', '/auth/douyin/login', { anonymousCode: 'anonymous-code-0001' }, undefined],
    ['POST', '/auth/qq/login', { code: 'bad-code-0003' }, undefined],
    ['POST', '/auth/alipay/phone', { response: 'hello' }, alipay],
    ['POST', '/auth/kuaishou/login', { code: 'bad-code-0004' }, undefined],
    ['POST', '/auth/baidu/login', { code: 'bad-code-0005' }, undefined],
    ['POST', '/auth/wecom/login', { code: 'bad-code-0006' }, undefined],
    ['POST', '/auth/kuaishou/phone', { encryptedData: 'AAAA', iv: 'AAAA' }, kuaishou],
    ['POST', '/auth/baidu/userinfo', { encryptedData: 'AAAA', iv: 'AAAA' }, kuaishou],
    ['POST', '/auth/douyin/phone', { code: 'a-phone-code' }, douyin],
    ['POST', '/auth/wechat/link', { code: 'bad-code-0007' }, wechat],
    ['POST', '/auth/alipay/link', { authCode: 'bad-code-0008' }, undefined],
    ['POST', '/auth/qq/link', { code: 1 }, wechat],
    ['POST', '/auth/web/logout', undefined, undefined],
    ['GET', '/auth/wechat-oa/authorize?redirect=https%3A%2F%2Fevil.example%2F', undefined, undefined],
    ['GET', '/auth/wechat-web/callback?code=abc&state=' + 'A'.repeat(22), undefined, undefined],
    ['GET', '/auth/wechat-oa/callback', undefined, undefined],
    ['POST', '/auth/wechat-app/login', { code: 7 }, undefined],
    ['GET', '/auth/scan/tickets/AAAAAAAAAAAAAAAAAAAAAA', undefined, undefined],
    ['GET', '/auth/scan/tickets/AAAAAAAAAAAAAAAAAAAAAA/events', undefined, undefined],
    ['POST', '/auth/scan/tickets/AAAAAAAAAAAAAAAAAAAAAA/session', undefined, undefined],
    ['POST', '/auth/scan/tickets/AAAAAAAAAAAAAAAAAAAAAA/scanned', undefined, wechat],
    ['POST', '/auth/scan/tickets/not-a-ticket/confirm', undefined, wechat],
    ['POST', '/auth/scan/tickets/AAAAAAAAAAAAAAAAAAAAAA/refuse', undefined, undefined],
    ['POST', '/auth/webview/tickets', undefined, undefined],
    ['GET', '/auth/webview?ticket=AAAAAAAAAAAAAAAAAAAAAA', undefined, undefined],
    ['GET', '/auth/webview?ticket=AAAAAAAAAAAAAAAAAAAAAA&redirect=%2F%2Fevil.example', undefined, undefined]
  ]
  for (const [method, url, body, skey] of requests) await world.call(app, method as 'GET', url, body, skey)
  t.ok(answered.length >= requests.length, `${answered.length} error replies`)
  // The other platforms' errors, each by its route: the loop below checks each is documented.
  const seen = (url: string, status: number, code: string) => answered.some((answer) => answer.method === 'POST' && answer.url === url && answer.status === status && answer.code === code)
  t.ok(seen('/auth/douyin/login', 403, 'MPA_ANONYMOUS_LOGIN_REFUSED'), 'Douyin refused an anonymous login')
  t.ok(seen('/auth/qq/login', 401, 'MPA_CODE_INVALID'), 'QQ refused a bad code')
  t.ok(seen('/auth/alipay/phone', 400, 'MPA_BAD_ENCRYPTED_DATA'), 'Alipay\'s phone route refused a bad payload')
  for (const platform of ['kuaishou', 'baidu', 'wecom']) t.ok(seen(`/auth/${platform}/login`, 401, 'MPA_CODE_INVALID'), `${platform} refused a bad code`)
  t.ok(seen('/auth/kuaishou/phone', 400, 'MPA_BAD_ENCRYPTED_DATA'), 'Kuaishou\'s phone route refused a bad payload')
  t.ok(seen('/auth/baidu/userinfo', 403, 'MPA_WRONG_PROVIDER'), 'Baidu\'s route refused a Kuaishou session')
  t.ok(seen('/auth/douyin/phone', 500, 'MPA_MISCONFIGURED'), 'a Douyin phone code for an app without phonePrivateKey')
  t.ok(seen('/auth/scan/tickets/:id/scanned', 404, 'MPA_TICKET_UNKNOWN'), 'an unknown ticket')
  t.ok(answered.some((answer) => answer.url === '/auth/scan/tickets/:id/events' && answer.code === 'MPA_TICKET_BROWSER'), 'a ticket read without its browser')
  t.ok(answered.some((answer) => answer.url === '/auth/webview' && answer.code === 'MPA_REDIRECT_REFUSED'), 'a web-view redirect elsewhere')
  for (const { method, url, status, code } of answered) {
    const operation = paths[url.replace(/:(\w+)/g, '{$1}')]![method.toLowerCase()]!
    t.ok(codesOf(operation, status).includes(code), `${method} ${url} answered ${status} ${code}: documented`)
  }
})

test('the demo\'s document carries the package version', async (t) => {
  const demo = await startDemo({ port: 0, keyPrefix: testRedis(t, 'openapi-demo').prefix, redis: { url: REDIS_URL } })
  t.teardown(() => demo.close())
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  t.equal((demo.app.swagger() as { info: { version: string } }).info.version, version)
})

test('no secret in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})
