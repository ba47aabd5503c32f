import t from 'tap'
import { AlipaySdk } from 'alipay-sdk'
import { createAlipaySandbox, formatChinaTime, generateRsaKeyPair, OAUTH_TOKEN, USER_INFO_SHARE, type AlipaySandbox } from '../../sandbox/index.js'
import { makeCertificates } from '../helpers/alipay.js'
import { ALIPAY_APP_ID, AlipayWorld } from '../helpers/alipay-world.js'

// The sandbox against what the live gateway has been seen to send
// (docs/alipay.md): raw bodies as they come
// over HTTP, the real alipay-sdk's reading of them, and the provider's.

const UNKNOWN_APP_ID = '2021009999999999'
const INVALID_APP_ID_BODY = '{"alipay_system_oauth_token_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id","sub_msg":"无效的AppID参数"}}'
const world = await AlipayWorld.create(t, 'alipay-fidelity')
const { sandbox } = world
const now = (): string => formatChinaTime(Date.now())

function sdkFor (gateway: AlipaySandbox, appId = ALIPAY_APP_ID): AlipaySdk {
  return new AlipaySdk({ appId, privateKey: world.appKeys.privateKey, keyType: 'PKCS8', alipayPublicKey: gateway.publicKey, gateway: gateway.url, timeout: 2000 })
}

/** POSTs the parameters alipay-sdk signed for this call, as it would, and gives the raw answer. */
async function rawCall (gateway: AlipaySandbox, form: string): Promise<{ status: number, contentType: string | null, body: string }> {
  const res = await fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' }, body: form })
  return { status: res.status, contentType: res.headers.get('content-type'), body: await res.text() }
}

t.test('an app_id the gateway does not know: refused unsigned, in the method node, before the signature', async (t) => {
  const signed = sdkFor(sandbox, UNKNOWN_APP_ID).sdkExecute(OAUTH_TOKEN, { grantType: 'authorization_code', code: sandbox.issueAuthCode({}), timestamp: now() })
  const answer = await rawCall(sandbox, signed)
  t.same(answer, { status: 200, contentType: 'text/html;charset=utf-8', body: INVALID_APP_ID_BODY }, 'the body reported of the live gateway, byte for byte')

  // The signature is never looked at: a garbage one gets the same answer.
  const garbage = signed.replace(/sign=[^&]+/, 'sign=AAAA')
  t.equal((await rawCall(sandbox, garbage)).body, INVALID_APP_ID_BODY)
  const noAppId = await rawCall(sandbox, signed.replace(/app_id=[^&]+&?/, ''))
  t.same(JSON.parse(noAppId.body), { alipay_system_oauth_token_response: { code: '40001', msg: 'Missing Required Arguments', sub_code: 'isv.missing-app-id', sub_msg: '缺少AppID参数' } },
    'no app_id at all: unsigned too')

  // Another method: its own node.
  const info = await rawCall(sandbox, sdkFor(sandbox, UNKNOWN_APP_ID).sdkExecute(USER_INFO_SHARE, { authToken: 'authusrBnope', timestamp: now() }))
  t.match(JSON.parse(info.body), { alipay_user_info_share_response: { sub_code: 'isv.invalid-app-id' } })
  t.notMatch(info.body, /"sign"/)
})

t.test('alipay-sdk 4 and an unsigned answer', async (t) => {
  const unknown = sdkFor(sandbox, UNKNOWN_APP_ID)
  const params = () => ({ grantType: 'authorization_code', code: sandbox.issueAuthCode({}), timestamp: now() })
  // validateSign verifies the absent sign as undefined: node:crypto throws, and the body is lost.
  const err = await unknown.exec(OAUTH_TOKEN, params(), { validateSign: true }).catch((error: unknown) => error)
  t.type(err, TypeError)
  t.match((err as Error).message, /"signature" argument/)
  t.notOk('responseDataRaw' in (err as object), 'the body is not on the error')
  // Unverified, the node comes back as a business error would.
  const { traceId, ...node } = await unknown.exec(OAUTH_TOKEN, params())
  t.same(node, { code: '40002', msg: 'Invalid Arguments', subCode: 'isv.invalid-app-id', subMsg: '无效的AppID参数' })
  t.match(traceId, /^[0-9a-f]{24}$/, 'with the trace_id header')
})

t.test('certificate mode: the unsigned refusal carries no alipay_cert_sn; signed answers do', async (t) => {
  const sandboxKeys = generateRsaKeyPair()
  const certs = makeCertificates(sandboxKeys.privateKey, world.appKeys.privateKey)
  const certSandbox = await createAlipaySandbox({
    keyPair: sandboxKeys,
    certificates: { alipayPublicCert: certs.alipayPublicCert, alipayRootCert: certs.rootBundle },
    apps: [{ appId: ALIPAY_APP_ID, appCertContent: certs.appCert }]
  })
  t.teardown(() => certSandbox.close())
  const sdk = (appId: string) => new AlipaySdk({
    appId, privateKey: world.appKeys.privateKey, keyType: 'PKCS8', gateway: certSandbox.url, appCertContent: certs.appCert, alipayPublicCertContent: certs.alipayPublicCert, alipayRootCertContent: certs.rootBundle
  })
  const refused = await rawCall(certSandbox, sdk(UNKNOWN_APP_ID).sdkExecute(OAUTH_TOKEN, { grantType: 'authorization_code', code: 'x', timestamp: now() }))
  t.equal(refused.body, INVALID_APP_ID_BODY)
  const known = await rawCall(certSandbox, sdk(ALIPAY_APP_ID).sdkExecute(OAUTH_TOKEN, { grantType: 'authorization_code', code: 'x', timestamp: now() }))
  t.match(known.body, /^\{"error_response":\{[^}]*"sub_code":"isv\.code-invalid"[^}]*\},"alipay_cert_sn":"[0-9a-f]{32}","sign":"[A-Za-z0-9+/=]+"\}$/)
})

t.test('oauth.token: expires_in and re_expires_in are numbers, as in recorded bodies', async (t) => {
  const sdk = sdkFor(sandbox)
  const answer = await rawCall(sandbox, sdk.sdkExecute(OAUTH_TOKEN, { grantType: 'authorization_code', code: sandbox.issueAuthCode({ openId: 'open-n' }), timestamp: now() }))
  t.equal(answer.contentType, 'text/html;charset=utf-8')
  t.match(answer.body, /^\{"alipay_system_oauth_token_response":\{.*"expires_in":1296000,.*"re_expires_in":2592000,.*\},"sign":"[A-Za-z0-9+/=]+"\}$/)
  const verified = await sdk.exec(OAUTH_TOKEN, { grantType: 'authorization_code', code: sandbox.issueAuthCode({}), timestamp: now() }, { validateSign: true })
  t.same([verified.expiresIn, verified.reExpiresIn], [1296000, 2592000], 'alipay-sdk passes them on as numbers')

  // As Alipay's docs type them: strings, signed like the rest.
  sandbox.fail(OAUTH_TOKEN, { fields: { expires_in: '1296000', re_expires_in: '2592000' } })
  const strings = await sdk.exec(OAUTH_TOKEN, { grantType: 'authorization_code', code: sandbox.issueAuthCode({}), timestamp: now() }, { validateSign: true })
  t.same([strings.expiresIn, strings.reExpiresIn], ['1296000', '2592000'])
})

t.test('user.info.share: the recorded invalid-token refusal, and gender as given', async (t) => {
  const sdk = sdkFor(sandbox)
  const answer = await rawCall(sandbox, sdk.sdkExecute(USER_INFO_SHARE, { authToken: 'authusrBnotatoken', timestamp: now() }))
  t.match(answer.body, /^\{"alipay_user_info_share_response":\{"code":"20001","msg":"Insufficient Token Permissions","sub_code":"aop\.invalid-auth-token","sub_msg":"无效的访问令牌"\},"sign":"[A-Za-z0-9+/=]+"\}$/,
    'the recorded node, signed')

  const granted = await sdk.exec(OAUTH_TOKEN, { grantType: 'authorization_code', code: sandbox.issueAuthCode({ scope: 'auth_user', profile: { gender: 'm' } }), timestamp: now() })
  const info = await sdk.exec(USER_INFO_SHARE, { auth_token: granted.accessToken, timestamp: now() }, { validateSign: true })
  t.equal(info.gender, 'm', 'a lowercase gender is sent as given')
})

t.test('setIdentityMode: codes already issued follow the new mode', async (t) => {
  const sdk = sdkFor(sandbox)
  const token = async (code: string) => sdk.exec(OAUTH_TOKEN, { grantType: 'authorization_code', code, timestamp: now() }, { validateSign: true })
  const user = { userId: '2088000000000042', openId: '074000000000000000000000000000042' }
  const early = sandbox.issueAuthCode(user)
  sandbox.setIdentityMode(ALIPAY_APP_ID, 'user_id')
  t.match(await token(sandbox.issueAuthCode(user)), { userId: user.userId, openId: undefined })
  sandbox.setIdentityMode(ALIPAY_APP_ID, 'both')
  t.match(await token(early), { userId: user.userId, openId: user.openId })
  sandbox.setIdentityMode(ALIPAY_APP_ID, 'open_id')
  t.match(await token(sandbox.issueAuthCode(user)), { userId: undefined, openId: user.openId })
})

t.test('the provider reads what the gateway sends: numbers or strings, F/M in either case', async (t) => {
  const app = await world.build()
  const exchanged = await app.alipay.exchangeAuthCode(sandbox.issueAuthCode({ openId: 'open-e' }))
  t.same([exchanged.expiresIn, exchanged.reExpiresIn], [1296000, 2592000], 'numbers')
  sandbox.fail(OAUTH_TOKEN, { fields: { expires_in: '1296000', re_expires_in: '2592000' } })
  const fromStrings = await app.alipay.exchangeAuthCode(sandbox.issueAuthCode({ openId: 'open-s' }))
  t.same([fromStrings.expiresIn, fromStrings.reExpiresIn], [1296000, 2592000], 'strings')
  sandbox.fail(OAUTH_TOKEN, { fields: { expires_in: '', re_expires_in: null } })
  const unreadable = await app.alipay.exchangeAuthCode(sandbox.issueAuthCode({ openId: 'open-x' }))
  t.same([unreadable.expiresIn, unreadable.reExpiresIn], [Number.NaN, Number.NaN], 'neither: NaN, not 0')

  for (const [sent, passed] of [['m', 'M'], ['f', 'F'], ['M', 'M'], ['F', 'F'], ['x', undefined], ['', undefined]] as const) {
    sandbox.fail(USER_INFO_SHARE, { fields: { gender: sent } })
    const { accessToken } = await app.alipay.exchangeAuthCode(sandbox.issueAuthCode({ scope: 'auth_user', profile: { nickName: 'G' } }))
    const profile = await app.alipay.getUserInfo(accessToken)
    t.same(profile, { nickName: 'G', ...(passed ? { gender: passed } : {}) }, `gender ${JSON.stringify(sent)}`)
  }

  // Through a login: resolveUser sees the normalised gender.
  const seen: unknown[] = []
  const login = await world.build(world.options(), { resolveUser: (identity) => { seen.push(identity.profile); return { id: 'u' } } })
  const res = await world.login(login, { authCode: sandbox.issueAuthCode({ scope: 'auth_user', profile: { gender: 'f', city: '杭州市' } }), scope: 'auth_user' })
  t.equal(res.json.profile, 'ok')
  t.same(seen, [{ gender: 'F', city: '杭州市' }])
  t.same(world.leaks(), [], 'no secret in a reply or log line')
})
