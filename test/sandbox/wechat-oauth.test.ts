import { test } from 'tap'
import { createWechatOAuthSandbox } from '../../sandbox/index.js'

// The OAuth sandbox keeps WeChat's rules: its consent pages' refusals, single-use
// codes for their app, what each scope's access token may read, its errcodes.

const OA = 'wx0a0000000000sbo1'
const WEB = 'wx0a0000000000sbw1'
const APP = 'wx0a0000000000sba1'

test('consent pages, codes, tokens and userinfo, as WeChat answers them', async (t) => {
  const sandbox = await createWechatOAuthSandbox({
    apps: { [OA]: { secret: 'oa-secret', kind: 'oa', callbackDomain: 'api.example.test' }, [WEB]: { secret: 'web-secret', kind: 'website' }, [APP]: { secret: 'app-secret', kind: 'app' } },
    users: { ann: { unionId: 'union-ann', nickname: 'Ann' } }
  })
  t.teardown(() => sandbox.close())
  const get = async (path: string) => {
    const res = await fetch(sandbox.url + path, { redirect: 'manual' })
    return { status: res.status, location: res.headers.get('location'), text: await res.text() }
  }
  const json = async (path: string) => JSON.parse((await get(path)).text) as Record<string, any>
  const page = (path: string, query: Record<string, string>) => get(`${path}?${new URLSearchParams(query)}#wechat_redirect`)
  const oa = { appid: OA, redirect_uri: 'https://api.example.test/cb?x=1', response_type: 'code', scope: 'snsapi_userinfo', state: 's1' }

  for (const [query, path, errcode] of [
    [{ ...oa, appid: '' }, '/connect/oauth2/authorize', 10012],
    [{ ...oa, redirect_uri: '' }, '/connect/oauth2/authorize', 10011],
    [{ ...oa, scope: '' }, '/connect/oauth2/authorize', 10010],
    [{ ...oa, appid: 'wx-unknown' }, '/connect/oauth2/authorize', 10016],
    [{ ...oa, redirect_uri: 'https://evil.example/cb' }, '/connect/oauth2/authorize', 10003],
    [{ ...oa, scope: 'snsapi_login' }, '/connect/oauth2/authorize', 10005],
    [{ ...oa, appid: WEB, scope: 'snsapi_userinfo' }, '/connect/qrconnect', 10005],
    [oa, '/connect/qrconnect', 10005]
  ] as const) {
    t.match((await page(path, query)).text, `<h1>${errcode}</h1>`, `${path} ${JSON.stringify(query)}: ${errcode}`)
  }

  const consent = await page('/connect/oauth2/authorize', oa)
  const approve = /id="approve-ann" href="([^"]+)"/.exec(consent.text)![1]!.replaceAll('&amp;', '&')
  const back = await get(approve)
  t.equal(back.status, 302)
  const location = new URL(back.location!)
  t.equal(location.origin + location.pathname, 'https://api.example.test/cb')
  t.same([...location.searchParams.keys()], ['x', 'code', 'state'], 'the redirect_uri\'s own query kept, then code and state')
  t.equal((await get(approve)).status, 400, 'a consent is answered once')
  const refusal = /id="refuse" href="([^"]+)"/.exec((await page('/connect/oauth2/authorize', oa)).text)![1]!
  t.equal(new URL((await get(refusal)).location!).search, '?x=1&state=s1', 'refused: the state, no code')

  const code = location.searchParams.get('code')!
  const token = (query: Record<string, string>) => json(`/sns/oauth2/access_token?${new URLSearchParams(query)}`)
  const exchange = { appid: OA, secret: 'oa-secret', code, grant_type: 'authorization_code' }
  t.match(await token({ ...exchange, appid: 'wx-unknown' }), { errcode: 40013 })
  t.match(await token({ ...exchange, secret: 'nope' }), { errcode: 40125 })
  t.match(await token({ ...exchange, grant_type: 'client_credential' }), { errcode: 40002 })
  t.match(await token({ ...exchange, code: '' }), { errcode: 41008, errmsg: /^missing code, rid: / })
  t.match(await token({ ...exchange, appid: WEB, secret: 'web-secret' }), { errcode: 40029 }, 'another app\'s code')
  const granted = await token(exchange)
  t.match(granted, { expires_in: 7200, openid: sandbox.openIdOf('ann', OA), scope: 'snsapi_userinfo', unionid: 'union-ann' })
  t.match(await token(exchange), { errcode: 40163, errmsg: /^code been used/ })
  t.not(sandbox.openIdOf('ann', OA), sandbox.openIdOf('ann', WEB), 'an openid per app')

  const userinfo = (query: Record<string, string>) => json(`/sns/userinfo?${new URLSearchParams(query)}`)
  t.match(await userinfo({ access_token: granted.access_token, openid: granted.openid }), { openid: granted.openid, nickname: 'Ann', unionid: 'union-ann', privilege: [] })
  t.match(await userinfo({ access_token: granted.access_token, openid: 'o-other' }), { errcode: 40003 })
  t.match(await userinfo({ access_token: 'nope', openid: granted.openid }), { errcode: 40001 })
  t.match(await userinfo({ openid: granted.openid }), { errcode: 41001 })

  const baseConsent = await page('/connect/oauth2/authorize', { ...oa, scope: 'snsapi_base' })
  const baseCode = new URL((await get(/id="approve-ann" href="([^"]+)"/.exec(baseConsent.text)![1]!.replaceAll('&amp;', '&'))).location!).searchParams.get('code')!
  const base = await token({ ...exchange, code: baseCode })
  t.notOk('unionid' in base, 'snsapi_base: no unionid')
  t.match(await userinfo({ access_token: base.access_token, openid: base.openid }), { errcode: 48001 }, 'and its token may not read userinfo')

  const appCode = sandbox.issueAppCode('ann', APP)
  t.match(await token({ appid: APP, secret: 'app-secret', code: appCode, grant_type: 'authorization_code' }), { scope: 'snsapi_userinfo', unionid: 'union-ann' })
  t.throws(() => sandbox.issueAppCode('ann', WEB), /no user ann or mobile app/)
  sandbox.fail('access_token', { errcode: -1 })
  t.match(await token(exchange), { errcode: -1 })
  t.ok(sandbox.secrets().includes(granted.access_token), 'tokens are secrets for the leak checks')
})
