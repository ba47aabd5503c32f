import tap, { test, type Test } from 'tap'
import diagnostics from 'node:diagnostics_channel'
import type { FastifyInstance } from 'fastify'
import type { LoginEvent, LoginRateLimitOptions } from '../../index.js'
import smsLogin from '../../examples/sms-provider/plugin.js'
import { createDouyinSandbox, createQqSandbox } from '../../sandbox/index.js'
import { PlatformsWorld } from '../helpers/platforms.js'

// docs/observability.md: the login event covers every login that ended, so
// a refusal or throttling counter built on it sees them all: 429s of the
// rate limit on every provider's login route (the app's own too), and
// Douyin's logins refused before the exchange.

const WECHAT = { appId: 'wx00000000000events', appSecret: 'events-secret-0123456789' }
const DOUYIN = { appId: 'tt0000000000events', appSecret: 'events-douyin-secret-0123456789' }
const QQ = { appId: '1113000000', appSecret: 'events-qq-secret-0123456789' }

const world = await PlatformsWorld.create(tap, 'login-events', WECHAT, '2021000000events1')
const douyin = await createDouyinSandbox({ apps: { [DOUYIN.appId]: DOUYIN.appSecret } })
const qq = await createQqSandbox({ apps: { [QQ.appId]: QQ.appSecret } })
tap.teardown(() => Promise.all([douyin.close(), qq.close()]))
world.watch(() => [...douyin.secrets(), ...qq.secrets()])
const outbox: string[] = []

/** Every login event published until `t` ends. */
function loginEvents (t: Test): LoginEvent[] {
  const seen: LoginEvent[] = []
  const subscriber = (message: unknown) => { seen.push(message as LoginEvent) }
  diagnostics.subscribe('fastify-miniprogram-auth:login', subscriber)
  t.teardown(() => diagnostics.unsubscribe('fastify-miniprogram-auth:login', subscriber))
  return seen
}

/** Every platform, and the app's own SMS login registered as docs/custom-provider.md shows it (no rateLimit of its own). */
function build (rateLimit: LoginRateLimitOptions | false): Promise<FastifyInstance> {
  const keyPrefix = world.subPrefix('events')
  return world.build({
    keyPrefix,
    rateLimit,
    douyin: { ...DOUYIN, baseUrl: douyin.url },
    qq: { ...QQ, baseUrl: qq.url }
  }, (app) => {
    app.register(smsLogin, { prefix: '/auth', redis: world.redis, keyPrefix, send: async (_phone, code) => { outbox.push(code) } })
  })
}

const LOGINS = {
  wechat: () => ({ url: '/auth/wechat/login', payload: { code: world.wechat.issueCode({ openId: 'oEvents00000000000000000001' }) } }),
  alipay: () => ({ url: '/auth/alipay/login', payload: { authCode: world.alipay.issueAuthCode() } }),
  douyin: () => ({ url: '/auth/douyin/login', payload: { code: douyin.login({ openId: 'events-douyin-user', anonymousOpenId: 'events-douyin-device' }).code } }),
  qq: () => ({ url: '/auth/qq/login', payload: { code: qq.issueCode({ openId: 'oEventsQq000000000000000001' }) } }),
  sms: () => ({ url: '/auth/sms/login', payload: { phone: '+8613800138999', code: '000000' } })
}

for (const [provider, login] of Object.entries(LOGINS)) {
  test(`${provider}: a 429 of the login rate limit publishes its login event`, async (t) => {
    const app = await build({ max: 1, timeWindow: '1 minute' })
    const seen = loginEvents(t)
    const first = await app.inject({ method: 'POST', ...login() })
    t.not(first.statusCode, 429, first.body)
    const limited = await app.inject({ method: 'POST', ...login() })
    t.equal(limited.statusCode, 429, limited.body)
    t.equal(seen.length, 2, 'one event per login that ended')
    t.match(seen[1], { provider, outcome: 'failure', replay: false, code: 'MPA_RATE_LIMITED', statusCode: 429, durationMs: Number })
    t.notOk('appId' in seen[1]!, 'no appId: the body was never read')
  })
}

test('douyin: logins refused before the exchange publish their login event', async (t) => {
  const app = await build(false)
  const seen = loginEvents(t)
  const asked = douyin.calls('jscode2session')
  const unknown = await app.inject({ method: 'POST', url: '/auth/douyin/login', payload: { code: 'a-code', appId: 'tt-not-configured' } })
  t.equal(unknown.statusCode, 400)
  const guest = await app.inject({ method: 'POST', url: '/auth/douyin/login', payload: { anonymousCode: douyin.login({ anonymousOpenId: 'events-guest-device' }).anonymousCode } })
  t.equal(guest.statusCode, 403)
  t.equal(guest.json().code, 'MPA_ANONYMOUS_LOGIN_REFUSED')
  t.equal(seen.length, 2)
  t.match(seen[0], { provider: 'douyin', outcome: 'failure', code: 'MPA_UNKNOWN_APP', statusCode: 400 })
  t.notOk('appId' in seen[0]!, 'an unknown appId is not reported')
  t.match(seen[1], { provider: 'douyin', appId: DOUYIN.appId, outcome: 'failure', code: 'MPA_ANONYMOUS_LOGIN_REFUSED', statusCode: 403 })
  t.equal(douyin.calls('jscode2session'), asked, 'Douyin was not asked')
  world.assertNoSecrets(t)
})
