import t, { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { Identity } from '../../index.js'
import { qqAppsOf } from '../../providers/qq/options.js'
import { createQqSandbox } from '../../sandbox/qq.js'
import { World } from '../helpers/world.js'

// QQ is WeChat's login under another name and host: the shared code is
// tested with WeChat. Here: the full path once, and what differs (the
// provider's name in identities, sessions and errors; the default host; the
// routes a QQ session may use).

const APP_ID = '1110000001'
const SECRET = 'qq-secret-0123456789abcdef'
const sandbox = await createQqSandbox({ apps: { [APP_ID]: SECRET } })
t.teardown(() => sandbox.close())
const world = new World(t, 'qq-login')
world.watch(() => sandbox.secrets())
const qq = { appId: APP_ID, appSecret: SECRET, baseUrl: sandbox.url, timeout: '2s' }
const identities: Identity[] = []
const app = await world.build({ qq, resolveUser: (identity) => { identities.push(identity); return { id: `u-${identity.openId}` } } })

async function login (on: FastifyInstance, openId: string, unionId?: string): Promise<{ statusCode: number, json: Record<string, any>, skey: string }> {
  const code = sandbox.issueCode({ openId, ...(unionId ? { unionId } : {}) })
  const reply = await world.post(on, '/auth/qq/login', { code })
  return { ...reply, skey: reply.json.skey }
}

test('full path: qq.login → POST /qq/login → skey → a QQ session', async (t) => {
  const reply = await login(app, 'o-alice', 'union-alice')
  t.equal(reply.statusCode, 200)
  t.same(identities, [{ provider: 'qq', surface: 'miniprogram', appId: APP_ID, openId: 'o-alice', unionId: 'union-alice' }])
  const session = await world.call(app, 'GET', '/auth/session', undefined, reply.skey)
  t.match(session.json.session, { provider: 'qq', appId: APP_ID, openId: 'o-alice', unionId: 'union-alice' })
  t.equal((await app.sessions.get(reply.skey))?.secrets.sessionKey, sandbox.sessionKeyOf('o-alice'))
  const plain = await world.build({ qq })
  t.same((await login(plain, 'o-bob')).json.user, { id: `qq:${APP_ID}:o-bob` }, 'the default user id names QQ')
})

test('a spent code and a refused app: QQ\'s errcodes, and the log names QQ and its option', async (t) => {
  const code = sandbox.issueCode({ openId: 'o-carol' })
  await world.post(app, '/auth/qq/login', { code })
  // A new app instance: its own replay window does not know the code.
  const fresh = await world.build({ qq, keyPrefix: world.subPrefix() })
  const spent = await world.post(fresh, '/auth/qq/login', { code })
  t.match(spent.json, { statusCode: 401, code: 'MPA_CODE_INVALID', message: /errcode 40163/ })
  const wrong = await world.build({ qq: { ...qq, appSecret: 'not-the-secret' } })
  const refused = await login(wrong, 'o-carol')
  t.match(refused.json, { statusCode: 500, code: 'MPA_MISCONFIGURED', message: /^Server misconfiguration: QQ refused app 1110000001/ })
  t.match(world.logs.text, 'QQ refused app 1110000001: invalid appsecret; check the qq appId/appSecret options')
})

test('userinfo: decrypted and verified for a QQ session; a WeChat session may not use it, nor a QQ session WeChat\'s', async (t) => {
  const { skey } = await login(app, 'o-dave')
  const info = sandbox.userInfo('o-dave')
  const reply = await world.post(app, '/auth/qq/userinfo', { encryptedData: info.encryptedData, iv: info.iv, rawData: info.rawData, signature: info.signature }, skey)
  t.equal(reply.statusCode, 200)
  t.same(reply.json, info.userInfo)
  const tampered = await world.post(app, '/auth/qq/userinfo', { ...info, rawData: info.rawData.replace('Sandbox User', 'Mallory') }, skey)
  t.equal(tampered.json.code, 'MPA_SIGNATURE_MISMATCH')

  const both = await world.build({ qq, wechat: { ...qq, appId: 'wx00000000000000a1' } })
  const qqSession = await login(both, 'o-erin')
  t.match((await world.post(both, '/auth/wechat/userinfo', sandbox.userInfo('o-erin'), qqSession.skey)).json, { statusCode: 403, code: 'MPA_WRONG_PROVIDER', message: /wechat session/ })
  const { skey: wechatSkey } = await both.sessions.create({ provider: 'wechat', appId: 'wx00000000000000a1', openId: 'o-erin' }, { user: { id: 'w' } })
  t.match((await world.post(both, '/auth/qq/userinfo', sandbox.userInfo('o-erin'), wechatSkey)).json, { statusCode: 403, code: 'MPA_WRONG_PROVIDER', message: /qq session/ })
  t.equal((await world.post(both, '/auth/qq/phone', sandbox.userInfo('o-erin'), qqSession.skey)).statusCode, 404, 'no phone route: QQ documents no phone button')
})

test('the qq option: QQ\'s host by default, errors that name the option', async (t) => {
  t.match(qqAppsOf({ appId: APP_ID, appSecret: SECRET }), [{ origin: 'https://api.q.qq.com', pathPrefix: '' }])
  await t.rejects(world.build({ qq: { appSecret: SECRET } as never }), { message: /^qq\.appId must be the mini-program AppID, such as '1110000000'/ })
  await t.rejects(world.build({ qq: [qq, { ...qq, appId: '1110000002', appSecret: 'has space' }] }), { message: /^qq\[1\]\.appSecret must be/ })
})

test('no session_key, app secret or skey in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})
