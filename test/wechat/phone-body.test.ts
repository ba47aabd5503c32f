import t, { test } from 'tap'
import { WechatWorld } from '../helpers/wechat.js'

// POST /auth/wechat/phone takes { code } or { encryptedData, iv }, never both
// and nothing else; a code that cannot be WeChat's is refused before any
// upstream call; the session's openid goes along with the code.

const world = await WechatWorld.create(t, 'phone-body')
const { sandbox } = world
const app = await world.build()
const alice = await world.login(app, 'o-alice', { phone: '13800138000' })
const bob = await world.login(app, 'o-bob', { phone: '13900139000' })

/** Upstream calls so far: a refused body must add none. */
const upstream = () => sandbox.calls('getuserphonenumber') + sandbox.calls('stable_token')

test('one shape or the other, nothing else', async (t) => {
  const before = upstream()
  const legacy = sandbox.phoneData('o-alice')
  const bodies: Array<[string, object]> = [
    ['both shapes', { code: sandbox.phoneCode('o-alice'), ...legacy }],
    ['a code and an iv', { code: sandbox.phoneCode('o-alice'), iv: legacy.iv }],
    ['a code and an extra field', { code: sandbox.phoneCode('o-alice'), openid: 'o-bob' }],
    ['encrypted data and an extra field', { ...legacy, cloudID: 'x' }],
    ['encrypted data without its iv', { encryptedData: legacy.encryptedData }],
    ['neither', {}]
  ]
  for (const [what, body] of bodies) {
    t.match((await world.post(app, '/auth/wechat/phone', body, alice.skey)).json, { statusCode: 400, code: 'FST_ERR_VALIDATION' }, what)
  }
  t.equal(upstream(), before, 'none reached WeChat')
  t.match((await world.post(app, '/auth/wechat/phone', { code: sandbox.phoneCode('o-alice') }, alice.skey)).json, { purePhoneNumber: '13800138000' }, '{ code } alone')
  t.match((await world.post(app, '/auth/wechat/phone', legacy, alice.skey)).json, { purePhoneNumber: '13800138000' }, '{ encryptedData, iv } alone')
})

test('a code that cannot be WeChat\'s: 400, no upstream call', async (t) => {
  const before = upstream()
  const malformed: unknown[] = [123, true, null, ['abc'], { code: 'abc' }, '', 'x'.repeat(129), 'a b', 'a+b', 'a/b', 'a=b', '码', 'abc\n', '🐼']
  for (const code of malformed) {
    const reply = await world.post(app, '/auth/wechat/phone', { code }, alice.skey)
    t.match(reply.json, { statusCode: 400, code: 'FST_ERR_VALIDATION' }, `code ${JSON.stringify(code)}`)
  }
  t.equal(upstream(), before, 'none reached WeChat, and no access token was fetched for them')
  // The edges of the pattern reach WeChat, which refuses codes it never issued.
  for (const code of ['x'.repeat(128), 'a_B-9']) {
    t.match((await world.post(app, '/auth/wechat/phone', { code }, alice.skey)).json, { statusCode: 400, code: 'MPA_PHONE_CODE_INVALID' }, `code of ${code.length} characters`)
  }
})

test('the session\'s openid goes with the code: another user\'s phone code is refused', async (t) => {
  const bobsCode = sandbox.phoneCode('o-bob')
  t.match((await world.post(app, '/auth/wechat/phone', { code: bobsCode }, alice.skey)).json, { statusCode: 400, code: 'MPA_PHONE_CODE_INVALID' },
    'Alice cannot redeem Bob\'s code')
  t.match((await world.post(app, '/auth/wechat/phone', { code: bobsCode }, bob.skey)).json, { purePhoneNumber: '13900139000' },
    'Bob can: the refused attempt did not spend it')
})

test('no session_key, access token or app secret in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})
