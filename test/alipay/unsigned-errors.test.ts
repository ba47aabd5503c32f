import t from 'tap'
import { readFileSync } from 'node:fs'
import type { Identity } from '../../index.js'
import { UnsignedResponseError } from '../../providers/alipay/sdk.js'
import { errorForNode } from '../../providers/alipay/sub-codes.js'
import { OAUTH_TOKEN, USER_INFO_SHARE, type AlipaySandboxFault } from '../../sandbox/index.js'
import { ALIPAY_APP_ID, AlipayWorld } from '../helpers/alipay-world.js'

// Gateway errors come unsigned (an unknown app_id), and are answered as what
// they are; nothing else unsigned is believed. docs/alipay.md has the reasons.

const UNKNOWN_APP_ID = '2021009999999999'
const world = await AlipayWorld.create(t, 'alipay-unsigned')
const { sandbox } = world
const seen: Identity[] = []
const resolveUser = (identity: Identity) => {
  seen.push(identity)
  return { id: `alipay:${identity.appId}:${identity.openId ?? identity.alipayUserId}` }
}
const app = await world.build(world.options(), { resolveUser })
// What Alipay's sub_msg says: never in a reply.
const SUB_MSGS = /无效的AppID参数|授权码code无效|injected fault/

/** A level-50 (error) log line with this message, and what it logged. */
function errorLine (message: RegExp): Record<string, any> | undefined {
  const line = world.logs.lines.find((text) => text.includes('"level":50') && message.test(text))
  return line === undefined ? undefined : JSON.parse(line)
}

t.test('an appId the gateway does not know: 500 MPA_MISCONFIGURED, what to check in the log', async (t) => {
  const wrongId = await world.build(world.options({ appId: UNKNOWN_APP_ID }), { resolveUser })
  const before = sandbox.calls(OAUTH_TOKEN)
  const res = await world.login(wrongId, { authCode: sandbox.issueAuthCode({}) })
  t.equal(sandbox.calls(OAUTH_TOKEN) - before, 1, 'Alipay was really asked')
  t.equal(res.statusCode, 500)
  t.match(res.json, { code: 'MPA_MISCONFIGURED', message: `Server misconfiguration: Alipay refused app ${UNKNOWN_APP_ID} (isv.invalid-app-id); the server log says what to fix` })
  t.notMatch(res.body, SUB_MSGS, 'no sub_msg in the reply')
  t.notMatch(res.body, /gateway|sandbox|production/, 'the fix is for the operator')

  const line = errorLine(/Alipay refused app 2021009999999999: /)
  t.ok(line, 'the fix is logged at error level')
  t.match(line?.msg, /check appId and that gateway is the right environment \(sandbox vs production\)/)
  t.match(line?.msg, /an unsigned reply/)
  t.match(line?.alipay, { appId: UNKNOWN_APP_ID, method: OAUTH_TOKEN, code: '40002', subCode: 'isv.invalid-app-id', signed: false, gateway: sandbox.url })
  t.ok(errorLine(/MPA_MISCONFIGURED/), 'and the 500 itself')
  t.same(seen, [], 'no identity came of it')
})

t.test('a gateway of the other environment: the same 500, naming the gateway it used', async (t) => {
  // The app is known to one gateway ("production") and configured with another ("sandbox"), and the reverse.
  const other = await world.otherGateway()
  other.registerApp({ appId: '2021000000000777', publicKey: world.appKeys.publicKey })
  const cases: Array<[string, string]> = [[ALIPAY_APP_ID, other.url], ['2021000000000777', sandbox.url]]
  for (const [appId, gateway] of cases) {
    const publicKey = gateway === sandbox.url ? sandbox.publicKey : other.publicKey
    const crossed = await world.build(world.options({ appId, gateway, alipayPublicKey: publicKey }), { resolveUser })
    const res = await world.login(crossed, { authCode: 'a-code-of-the-other-environment' })
    t.match(res.json, { statusCode: 500, code: 'MPA_MISCONFIGURED', message: /\(isv\.invalid-app-id\)/ }, appId)
    t.match(errorLine(new RegExp(`Alipay refused app ${appId}: `))?.alipay, { signed: false, gateway }, `${appId}: the log names ${gateway}`)
  }
})

t.test('unsigned successes are never trusted: 502 MPA_UPSTREAM_BAD_SIGNATURE, logged', async (t) => {
  const cases: Array<[string, AlipaySandboxFault]> = [
    ['a success in the method node, unsigned as a gateway error is', { unsigned: true }],
    ['a success with its sign left out', { missingSignature: true }],
    ['code 10000 without a sign', { code: '10000', subCode: 'isv.code-invalid', unsigned: true }],
    ['code 10000 in error_response without a sign', { code: '10000', subCode: 'isv.code-invalid', missingSignature: true }],
    ['an error node that also carries a token', { subCode: 'isv.code-invalid', unsigned: true, fields: { access_token: 'authusrBforged0000000000000000000000' } }],
    ['an error node that also carries an id', { subCode: 'isv.invalid-app-id', unsigned: true, fields: { user_id: '2088000000000001' } }],
    ['an error node without a sub_code', { code: '40002', unsigned: true }],
    ['an error node with a code that is no Alipay code', { subCode: 'isv.code-invalid', unsigned: true, fields: { code: 'ok' } }]
  ]
  for (const [name, fault] of cases) {
    sandbox.fail(OAUTH_TOKEN, fault)
    const logged = world.logs.lines.length
    const res = await world.login(app, { authCode: sandbox.issueAuthCode({ openId: 'open-unsigned' }) })
    t.equal(res.statusCode, 502, name)
    t.match(res.json, { code: 'MPA_UPSTREAM_BAD_SIGNATURE', message: /the response carries no signature/ }, name)
    t.match(world.logs.lines.slice(logged).join(''), /"level":50.*Alipay response signature check failed: the response carries no signature/, `${name}: logged`)
  }
  t.same(seen, [], 'resolveUser never saw an identity')

  // Called directly, the error is ours: the tokens of the unsigned success are nowhere in it.
  for (const fault of [{ unsigned: true }, { missingSignature: true }]) {
    sandbox.fail(OAUTH_TOKEN, fault)
    const err = await app.alipay.exchangeAuthCode(sandbox.issueAuthCode({})).catch((error: Error) => error)
    t.match(err, { statusCode: 502, code: 'MPA_UPSTREAM_BAD_SIGNATURE', cause: undefined })
    world.replies.push(`${(err as Error).message} ${JSON.stringify(err)} ${(err as Error).stack}`) // checked for secrets at the end
  }
  const unsigned = new UnsignedResponseError('{"alipay_system_oauth_token_response":{"access_token":"authusrBsecret"}}', 'trace')
  t.match(unsigned, { message: 'the Alipay response carries no signature', traceId: 'trace', responseDataRaw: /authusrBsecret/ })
  t.notMatch(`${JSON.stringify(unsigned)} ${Object.keys(unsigned).join()} ${unsigned.stack}`, /authusrB|responseDataRaw/, 'the body it keeps is not enumerable, nor in its message')

  // user.info.share: an unsigned code 10000 is no profile; the login stands without one.
  const profile = { nickName: 'U', gender: 'F' as const }
  sandbox.fail(USER_INFO_SHARE, { unsigned: true })
  const res = await world.login(app, { authCode: sandbox.issueAuthCode({ openId: 'open-p', scope: 'auth_user', profile }), scope: 'auth_user' })
  t.match(res.json, { user: { id: `alipay:${ALIPAY_APP_ID}:open-p` }, profile: 'unavailable' })
  t.same(seen.pop(), { provider: 'alipay', surface: 'miniprogram', appId: ALIPAY_APP_ID, openId: 'open-p' }, 'the unsigned profile was dropped')
  const session = await app.sessions.get(res.json.skey)
  sandbox.fail(USER_INFO_SHARE, { unsigned: true })
  await t.rejects(app.alipay.getUserInfo(session?.secrets.accessToken as string), { statusCode: 502, code: 'MPA_UPSTREAM_BAD_SIGNATURE' })
})

t.test('unsigned refusals are mapped by their sub_code, logged as unsigned', async (t) => {
  const cases: Array<[AlipaySandboxFault, number, string]> = [
    [{ subCode: 'isv.code-invalid', unsigned: true }, 401, 'MPA_CODE_INVALID'],
    [{ subCode: 'isv.code-invalid', missingSignature: true }, 401, 'MPA_CODE_INVALID'],
    [{ subCode: 'isv.code-invalid', unsigned: true, fields: { code: 40002 } }, 401, 'MPA_CODE_INVALID'],
    [{ subCode: 'isp.unknow-error', unsigned: true }, 502, 'MPA_UPSTREAM_ERROR'],
    [{ subCode: 'isv.app-call-limited', unsigned: true }, 429, 'MPA_UPSTREAM_RATE_LIMITED'],
    [{ subCode: 'isv.invalid-signature', unsigned: true }, 500, 'MPA_MISCONFIGURED']
  ]
  for (const [fault, statusCode, code] of cases) {
    const name = JSON.stringify(fault)
    sandbox.fail(OAUTH_TOKEN, fault)
    const logged = world.logs.lines.length
    const res = await world.login(app, { authCode: sandbox.issueAuthCode({}) })
    t.match(res.json, { statusCode, code, message: new RegExp(fault.subCode?.replaceAll('.', '\\.') ?? '') }, name)
    t.notMatch(res.body, SUB_MSGS, `${name}: no sub_msg in the reply`)
    t.match(world.logs.lines.slice(logged).join(''), /"signed":false.*an unsigned reply/, `${name}: logged as unsigned`)
  }

  const granted = await world.login(app, { authCode: sandbox.issueAuthCode({ scope: 'auth_user' }), scope: 'auth_user' })
  const session = await app.sessions.get(granted.json.skey)
  sandbox.fail(USER_INFO_SHARE, { subCode: 'aop.invalid-auth-token', unsigned: true })
  await t.rejects(app.alipay.getUserInfo(session?.secrets.accessToken as string), { statusCode: 401, code: 'MPA_CODE_INVALID', message: /aop\.invalid-auth-token/ })
})

t.test('a signature that is present and wrong stays MPA_UPSTREAM_BAD_SIGNATURE', async (t) => {
  const cases: Array<[AlipaySandboxFault, RegExp]> = [
    [{ subCode: 'isv.invalid-app-id', badSignature: true }, /an error_response whose signature does not verify/],
    [{ subCode: 'isv.code-invalid', badSignature: true }, /an error_response whose signature does not verify/],
    [{ badSignature: true }, /does not match its signature/]
  ]
  for (const [fault, message] of cases) {
    sandbox.fail(OAUTH_TOKEN, fault)
    const res = await world.login(app, { authCode: sandbox.issueAuthCode({}) })
    t.match(res.json, { statusCode: 502, code: 'MPA_UPSTREAM_BAD_SIGNATURE', message }, JSON.stringify(fault))
  }
})

t.test('the sub_code table in docs/alipay.md is what the code does', async (t) => {
  const doc = readFileSync(new URL('../../docs/alipay.md', import.meta.url), 'utf8')
  const rows = [...doc.matchAll(/^\| `([a-z]+\.[a-z-]+)` \| (\d{3}) \| `(MPA_[A-Z_]+)` \|$/gm)]
  t.ok(rows.length >= 20, `${rows.length} rows`)
  for (const [, subCode, status, code] of rows) {
    const { error } = errorForNode({ code: '40002', sub_code: subCode }, ALIPAY_APP_ID)
    t.same([error.statusCode, error.code], [Number(status), code], subCode as string)
  }
})

t.test('no token, private key or sub_msg in any reply or log line', async (t) => {
  t.ok(world.replies.length > 20 && world.logs.lines.length > 50, 'replies and trace logs were captured')
  t.ok(sandbox.secrets().length > 0, 'the sandbox issued tokens')
  t.same(world.leaks(), [], 'no secret leaked')
  t.same(world.replies.filter((reply) => SUB_MSGS.test(reply)), [], 'no sub_msg in a reply')
})
