import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { accountRoutes } from '../../examples/accounts/routes.js'
import { Users } from '../../examples/accounts/users.js'
import { PlatformsWorld } from '../helpers/platforms.js'

// docs/accounts.md's example, over HTTP against the WeChat and Alipay
// sandboxes and the shared Redis: one user, two platforms.

const WECHAT_APP = { appId: 'wx00000000accounts1', appSecret: 'secret-of-the-accounts-test-0123456789' }
const ALIPAY_APP_ID = '2021000000accounts'

async function listen (app: FastifyInstance) {
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  return async (method: string, path: string, { body, skey }: { body?: object, skey?: string } = {}) => {
    const res = await fetch(base + path, {
      method,
      headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(skey ? { 'x-skey': skey } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {})
    })
    const text = await res.text()
    return { status: res.status, json: text === '' ? {} : JSON.parse(text) as Record<string, any> }
  }
}

test('log in with WeChat, link Alipay, log in with Alipay: the same user; someone else\'s account is 409', async (t) => {
  const world = await PlatformsWorld.create(t, 'accounts', WECHAT_APP, ALIPAY_APP_ID)
  const users = new Users()
  const app = await world.build({ resolveUser: users.resolveUser, linkIdentity: users.linkIdentity, rateLimit: { max: 1000 } }, (app) => {
    void app.register(accountRoutes, { users })
  })
  const call = await listen(app)

  const wechat = await call('POST', '/auth/wechat/login', { body: { code: world.wechat.issueCode({ openId: 'o-ann', unionId: 'union-ann' }) } })
  t.equal(wechat.status, 200)
  const ann = wechat.json.user
  t.same(ann.providers, ['wechat'])

  const authCode = world.alipay.issueAuthCode({ openId: 'alipay-ann' })
  const link = await call('POST', '/auth/alipay/link', { body: { authCode }, skey: wechat.json.skey })
  t.same(link, { status: 200, json: { linked: { provider: 'alipay', appId: ALIPAY_APP_ID } } })
  t.same((await call('POST', '/auth/alipay/link', { body: { authCode }, skey: wechat.json.skey })).json, link.json, 'a retry of the code answers the same')
  t.same((await call('GET', '/auth/session', { skey: wechat.json.skey })).json.user.providers, ['wechat', 'alipay'], 'the live session learnt it')
  t.equal((await call('POST', '/auth/alipay/login', { body: { authCode } })).json.code, 'MPA_CODE_INVALID', 'a code spent on a link logs no one in')

  const alipay = await call('POST', '/auth/alipay/login', { body: { authCode: world.alipay.issueAuthCode({ openId: 'alipay-ann' }) } })
  t.equal(alipay.status, 200)
  t.equal(alipay.json.user.id, ann.id, 'logging in with Alipay is the same user')

  // Bob, on WeChat, tries Ann's Alipay account.
  const bob = await call('POST', '/auth/wechat/login', { body: { code: world.wechat.issueCode({ openId: 'o-bob' }) } })
  t.not(bob.json.user.id, ann.id)
  const stolen = world.alipay.issueAuthCode({ openId: 'alipay-ann' })
  const refused = await call('POST', '/auth/alipay/link', { body: { authCode: stolen }, skey: bob.json.skey })
  t.equal(refused.status, 409)
  t.equal(refused.json.code, 'MPA_IDENTITY_IN_USE')
  t.equal((await call('POST', '/auth/alipay/link', { body: { authCode: stolen }, skey: bob.json.skey })).json.code, 'MPA_CODE_INVALID', 'its retry: the code is spent')
  t.equal((await call('POST', '/auth/alipay/link', { body: { authCode }, skey: bob.json.skey })).json.code, 'MPA_CODE_INVALID', 'Ann\'s spent code is no link for Bob')
  t.equal((await call('POST', '/auth/wechat/link', { body: { code: world.wechat.issueCode({ openId: 'o-ann', unionId: 'union-ann' }) }, skey: bob.json.skey })).json.code,
    'MPA_IDENTITY_IN_USE', 'nor Ann\'s WeChat (her unionid)')
  t.equal((await call('POST', '/auth/alipay/link', { body: { authCode: world.alipay.issueAuthCode({ openId: 'alipay-x' }) } })).json.code, 'MPA_SKEY_MISSING', 'linking needs a session')

  // The app's own unlink: Ann drops Alipay, and her Alipay session ends with it.
  t.equal((await call('DELETE', '/account/identities/alipay', { skey: wechat.json.skey })).status, 204)
  t.equal((await call('GET', '/auth/session', { skey: alipay.json.skey })).json.code, 'MPA_SESSION_REVOKED')
  t.equal((await call('DELETE', '/account/identities/wechat', { skey: wechat.json.skey })).status, 409, 'never the last way in')
  const again = await call('POST', '/auth/alipay/login', { body: { authCode: world.alipay.issueAuthCode({ openId: 'alipay-ann' }) } })
  t.not(again.json.user.id, ann.id, 'unlinked: that Alipay account is someone new')
  t.equal((await call('POST', '/auth/alipay/link', { body: { authCode: world.alipay.issueAuthCode({ openId: 'alipay-ann' }) }, skey: wechat.json.skey })).json.code,
    'MPA_IDENTITY_IN_USE', 'and now theirs')
  world.assertNoSecrets(t)
})

test('without linkIdentity there are no link routes', async (t) => {
  const world = await PlatformsWorld.create(t, 'accounts-off', WECHAT_APP, ALIPAY_APP_ID)
  const app = await world.build()
  const { skey } = (await world.post(app, '/auth/wechat/login', { code: world.wechat.issueCode({ openId: 'o-x' }) })).json
  t.equal((await world.post(app, '/auth/wechat/link', { code: world.wechat.issueCode({ openId: 'o-y' }) }, skey)).statusCode, 404)
  t.match((await world.build({ linkIdentity: 'users.link' as never }).catch((err: Error) => err) as Error).message, /^linkIdentity must be a function/)
})

test('the link event and the login rules: rate limit, errors', async (t) => {
  const world = await PlatformsWorld.create(t, 'accounts-rules', WECHAT_APP, ALIPAY_APP_ID)
  const { subscribe, unsubscribe } = await import('node:diagnostics_channel')
  const events: Array<Record<string, unknown>> = []
  const onEvent = (event: unknown) => events.push(event as Record<string, unknown>)
  subscribe('fastify-miniprogram-auth:login', onEvent)
  t.teardown(() => unsubscribe('fastify-miniprogram-auth:login', onEvent))
  const seen: string[] = []
  const app = await world.build({
    rateLimit: { max: 3 },
    linkIdentity: (user, identity) => { seen.push(`${user.id} ${identity.provider} ${identity.surface}`) }
  })
  const { skey, user } = (await world.post(app, '/auth/wechat/login', { code: world.wechat.issueCode({ openId: 'o-r' }) })).json
  t.equal((await world.post(app, '/auth/alipay/link', { authCode: world.alipay.issueAuthCode({ openId: 'a-r' }) }, skey)).statusCode, 200)
  t.same(seen, [`${user.id} alipay miniprogram`], 'linkIdentity gets the user and the identity, with its surface')
  t.equal((await world.post(app, '/auth/wechat/link', { code: 'bad-code-0001' }, skey)).json.code, 'MPA_CODE_INVALID')
  t.equal((await world.post(app, '/auth/wechat/link', { code: 'bad-code-0002' }, skey)).json.code, 'MPA_RATE_LIMITED', 'the login rate limit counts links')
  const links = events.filter((event) => event.link === true)
  t.same(links.map(({ provider, outcome }) => `${provider as string} ${outcome as string}`), ['alipay success', 'wechat failure'], 'link events, marked as such')
  t.notOk(events.some((event) => event.link === undefined && event.provider === 'alipay'), 'no login event for the link')
})
