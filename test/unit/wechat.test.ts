import { test } from 'tap'
import { decrypt, phoneNumberOf, verifyRawData } from '../../lib/open-data.js'
import { errcodeError, errcodeOf } from '../../providers/common/errcodes.js'
import { errNoError } from '../../providers/douyin/err-nos.js'
import { sessionKeyField } from '../../providers/common/json-http.js'
import { wechatAppsOf, type WechatAppOptions } from '../../providers/wechat/options.js'
// The sandbox is independent of the product code (docs/architecture.md): its
// encryptData and signRawData are WeChat's client side, written separately.
import { encryptData, signRawData } from '../../sandbox/wechat.js'

// WeChat's published sample (the WXBizDataCrypt demos of the mini-program
// "open data" docs): this key and iv turn this plaintext into this ciphertext.
// Copied from test/helpers/wechat.ts, which cannot be imported here: it
// imports test/helpers/redis.ts and ioredis.
const VECTOR = {
  appId: 'wx4f4bc4dec97d474b',
  sessionKey: 'tiihtNczf5v6AKRyjwEUhQ==',
  iv: 'r7BXXKkLb8qrSNn05n0qiA==',
  encryptedData: 'CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==',
  plaintext: '{"openId":"oGZUI0egBJY1zhBYw2KhdUfwVJJE","nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8MHM4WgMEm7GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0","unionId":"ocMvos6NjeKLIBqg5Mr9QjxrP1FA","watermark":{"timestamp":1477314187,"appid":"wx4f4bc4dec97d474b"}}'
}
const { appId: APP_ID, sessionKey: KEY, iv: IV, encryptedData: DATA } = VECTOR

const BAD_DATA = { code: 'MPA_BAD_ENCRYPTED_DATA', statusCode: 400 }
const KEY_EXPIRED = { code: 'MPA_SESSION_KEY_EXPIRED', statusCode: 401 }
const base64 = (bytes: number, fill = 7): string => Buffer.alloc(bytes, fill).toString('base64')

test('decrypt: WeChat\'s published vector', async (t) => {
  t.same(decrypt(KEY, DATA, IV, APP_ID), JSON.parse(VECTOR.plaintext))
  t.throws(() => decrypt(KEY, DATA, IV, 'wx00000000000000a1'), { code: 'MPA_WATERMARK_MISMATCH', statusCode: 403 }, 'the data names another app in its watermark')
})

test('decrypt: data of our own, emoji and all, and the watermark it must carry', async (t) => {
  const profile = { openId: 'o-emoji', nickName: '小明 🐼👨‍👩‍👧', watermark: { appid: APP_ID, timestamp: 1 } }
  const mine = encryptData(profile, KEY)
  t.same(decrypt(KEY, mine.encryptedData, mine.iv, APP_ID), profile)
  const watermarks: Array<[string, object]> = [
    ['another app', { openId: 'o', watermark: { appid: 'wx-some-other-app', timestamp: 1 } }],
    ['no watermark', { openId: 'o' }],
    ['an appid that is not a string', { openId: 'o', watermark: { appid: 42 } }],
    ['a watermark that is not an object', { openId: 'o', watermark: APP_ID }]
  ]
  for (const [name, data] of watermarks) {
    const payload = encryptData(data, KEY)
    t.throws(() => decrypt(KEY, payload.encryptedData, payload.iv, APP_ID), { code: 'MPA_WATERMARK_MISMATCH', statusCode: 403 }, name)
  }
})

test('decrypt: malformed input is a 400 that says what is wrong', async (t) => {
  const cases: Array<[string, string, string, RegExp]> = [
    ['\'+\' turned into a space', DATA.replaceAll('+', ' '), IV, /^The encrypted data is invalid: encryptedData contains a space: a '\+' was probably turned into a space/],
    ['a space in the iv', DATA, 'r7BXXKkLb8qr NN05n0qiA==', /iv contains a space/],
    ['iv not base64', DATA, 'not*base64', /iv is not base64/],
    ['iv as base64url', DATA, 'r7BXXKkLb8qrSNn05n0qiA-_', /iv is not base64/],
    ['iv without its padding', DATA, 'r7BXXKkLb8qrSNn05n0qiA', /iv is not base64/],
    ['iv of 12 bytes', DATA, base64(12), /iv must be 16 bytes \(got 12\)/],
    ['iv of 32 bytes', DATA, base64(32), /iv must be 16 bytes \(got 32\)/],
    ['empty iv', DATA, '', /iv must be 16 bytes \(got 0\)/],
    ['data with a newline', DATA.slice(0, 64) + '\n' + DATA.slice(64), IV, /encryptedData is not base64/],
    ['data as base64url', DATA.replaceAll('+', '-').replaceAll('/', '_'), IV, /encryptedData is not base64/],
    ['data not a whole number of blocks', 'AAAA', IV, /encryptedData must be a non-empty multiple of 16 bytes/],
    ['empty data', '', IV, /encryptedData must be a non-empty multiple of 16 bytes/]
  ]
  for (const [name, encryptedData, iv, message] of cases) {
    t.throws(() => decrypt(KEY, encryptedData, iv, APP_ID), { ...BAD_DATA, message }, name)
  }
})

test('decrypt: well-formed data this key cannot open means the session_key is stale (401)', async (t) => {
  const cases: Array<[string, string, string, string]> = [
    ['another 16-byte key', base64(16), DATA, IV],
    ['a key that is not 16 bytes', 'short', DATA, IV],
    ['a 32-byte key', base64(32), DATA, IV],
    ['an empty key', '', DATA, IV],
    ['the right key, another iv', KEY, DATA, base64(16, 1)],
    ['plaintext that is a JSON array', KEY, encryptData('[1,2]', KEY, IV).encryptedData, IV],
    ['plaintext that is a JSON string', KEY, encryptData('"text"', KEY, IV).encryptedData, IV],
    ['plaintext that is null', KEY, encryptData('null', KEY, IV).encryptedData, IV],
    ['plaintext that is not JSON', KEY, encryptData('not json at all', KEY, IV).encryptedData, IV]
  ]
  for (const [name, key, encryptedData, iv] of cases) {
    t.throws(() => decrypt(key, encryptedData, iv, APP_ID), { ...KEY_EXPIRED, message: /log in again/ }, name)
  }
})

test('verifyRawData: sha1(rawData + session_key), hex in any case', async (t) => {
  const rawData = '{"nickName":"小明","gender":1,"avatarUrl":"https://thirdwx.qlogo.cn/x/132"}'
  const signature = signRawData(rawData, KEY)
  const cases: Array<[string, string]> = [['lower case', signature.toLowerCase()], ['upper case', signature.toUpperCase()]]
  for (const [name, given] of cases) t.doesNotThrow(() => verifyRawData(rawData, given, KEY), name)
  const mismatches: Array<[string, string, string, string]> = [
    ['rawData changed', rawData.replace('小明', 'Mallory'), signature, KEY],
    ['another session_key', rawData, signature, base64(16)],
    ['one hex digit changed', rawData, signature.slice(0, -1) + (signature.endsWith('0') ? '1' : '0'), KEY],
    ['truncated', rawData, signature.slice(2), KEY],
    ['one digit too many', rawData, signature + '0', KEY],
    ['not hex', rawData, 'z'.repeat(40), KEY],
    ['empty', rawData, '', KEY],
    ['the sha1 of rawData alone', rawData, signRawData(rawData, ''), KEY]
  ]
  for (const [name, data, given, key] of mismatches) {
    t.throws(() => verifyRawData(data, given, key), { code: 'MPA_SIGNATURE_MISMATCH', statusCode: 400 }, name)
  }
})

test('phoneNumberOf: three strings, or null', async (t) => {
  t.same(phoneNumberOf({ phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: '86', watermark: { appid: APP_ID } }),
    { phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: '86' }, 'other fields dropped')
  t.same(phoneNumberOf({ phoneNumber: '+14155550101', purePhoneNumber: '4155550101', countryCode: 1 }),
    { phoneNumber: '+14155550101', purePhoneNumber: '4155550101', countryCode: '1' }, 'a numeric countryCode becomes a string')
  const incomplete: Array<Record<string, unknown>> = [
    {},
    { purePhoneNumber: '13800138000', countryCode: '86' },
    { phoneNumber: '13800138000', countryCode: '86' },
    { phoneNumber: '13800138000', purePhoneNumber: '13800138000' },
    { phoneNumber: 13800138000, purePhoneNumber: '13800138000', countryCode: '86' },
    { phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: null },
    { phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: { code: 86 } }
  ]
  for (const info of incomplete) t.equal(phoneNumberOf(info), null, JSON.stringify(info))
})

test('errcodeOf: absent is success, strings are read, anything else is not an errcode', async (t) => {
  const cases: Array<[unknown, number]> = [[undefined, 0], [null, 0], [0, 0], [40029, 40029], ['45011', 45011], [-1, -1], ['-1', -1]]
  for (const [errcode, n] of cases) t.equal(errcodeOf(errcode === undefined ? {} : { errcode }), n, String(errcode))
  for (const errcode of ['abc', 1.5, true, {}, '4002x']) t.ok(Number.isNaN(errcodeOf({ errcode })), `${JSON.stringify(errcode)} is NaN`)
})

test('errcodeError: every mapped errcode, its error code and status', async (t) => {
  const table: Array<[number | string, string, number]> = [
    [40029, 'MPA_CODE_INVALID', 401],
    [40163, 'MPA_CODE_INVALID', 401],
    ['40163', 'MPA_CODE_INVALID', 401],
    [45011, 'MPA_UPSTREAM_RATE_LIMITED', 429],
    [40226, 'MPA_CODE_BLOCKED', 403],
    [40125, 'MPA_MISCONFIGURED', 500],
    [40013, 'MPA_MISCONFIGURED', 500],
    [40164, 'MPA_MISCONFIGURED', 500],
    ['40125', 'MPA_MISCONFIGURED', 500],
    [-1, 'MPA_UPSTREAM_ERROR', 502],
    [40001, 'MPA_UPSTREAM_ERROR', 502],
    [61234, 'MPA_UPSTREAM_ERROR', 502],
    ['not a number', 'MPA_UPSTREAM_ERROR', 502]
  ]
  for (const [errcode, code, statusCode] of table) {
    const { error } = errcodeError('wx1', 'sns/jscode2session', { errcode, errmsg: 'some errmsg' }, [])
    t.match(error, { code, statusCode }, `errcode ${JSON.stringify(errcode)} → ${statusCode} ${code}`)
  }
})

test('errcodeError: the client learns the endpoint, the errcode and WeChat\'s errmsg', async (t) => {
  const { error, errmsg, fix } = errcodeError('wx1', 'sns/jscode2session', { errcode: 40029, errmsg: 'invalid code, rid: 6572a1b2' }, [])
  t.equal(error.message, 'The login code is invalid, expired or already used: get a new one and log in again (sns/jscode2session errcode 40029: invalid code, rid: 6572a1b2)')
  t.equal(errmsg, 'invalid code, rid: 6572a1b2')
  t.equal(fix, undefined, 'nothing for the operator to fix')
  t.match(errcodeError('wx1', 'e', { errcode: '4002x' }, []).error.message, /e errcode "4002x"$/, 'an errcode that is not a number is quoted as sent')
  t.match(errcodeError('wx1', 'e', { errcode: 61234, errmsg: { nested: true } }, []), { errmsg: '', error: { message: /e errcode 61234$/ } }, 'an errmsg that is not a string is left out')
  t.equal(errcodeError('wx1', 'e', { errcode: 61234, errmsg: 'm'.repeat(500) }, []).errmsg, 'm'.repeat(200), 'a long errmsg is cut at 200 characters')
})

test('errcodeError: a misconfiguration gives the operator a fix and the client no details', async (t) => {
  const problems: Array<[number, RegExp]> = [[40125, /invalid appsecret/], [40013, /invalid appid/], [40164, /server IP not in the API IP whitelist/]]
  for (const [errcode, problem] of problems) {
    const errmsg = `WeChat's own words for ${errcode}, rid: 1a2b`
    const result = errcodeError('wx0123456789abcdef', 'cgi-bin/stable_token', { errcode, errmsg }, [])
    t.match(result.fix, problem, `${errcode}: the fix names the problem`)
    t.match(result.fix, /^WeChat refused app wx0123456789abcdef: .*check the wechat appId\/appSecret options and the console's IP whitelist$/)
    t.equal(result.error.message,
      `Server misconfiguration: WeChat refused app wx0123456789abcdef (cgi-bin/stable_token errcode ${errcode}); the server log says what to fix`,
      `${errcode}: the reply carries neither errmsg nor the fix`)
    t.equal(result.errmsg, errmsg, `${errcode}: errmsg is still there for the log`)
  }
})

test('errcodeError: secrets are scrubbed from errmsg, everywhere it goes', async (t) => {
  const appSecret = '0123456789abcdef0123456789abcdef'
  const token = '78_AbCdEfGhIjKlMnOpQrStUvWxYz-0123456789'
  const errmsg = `invalid credential, access_token is ${token} (secret ${appSecret}), again ${appSecret}`
  for (const errcode of [40001, 40125]) {
    const result = errcodeError('wx1', 'wxa/business/getuserphonenumber', { errcode, errmsg }, [appSecret, token])
    const shown = [result.errmsg, result.error.message, result.fix ?? ''].join('\n')
    t.notOk(shown.includes(appSecret) || shown.includes(token), `${errcode}: no secret left`)
    t.equal(result.errmsg, 'invalid credential, access_token is [redacted] (secret [redacted]), again [redacted]', `${errcode}: each occurrence redacted`)
  }
})

test('errcodeError: a secret cut in two by the 200-character limit is still scrubbed', async (t) => {
  const appSecret = '0123456789abcdef0123456789abcdef'
  const errmsg = 'x'.repeat(185) + appSecret
  const { error, errmsg: scrubbed } = errcodeError('wx1', 'sns/jscode2session', { errcode: 61234, errmsg }, [appSecret])
  const shown: Array<[string, string]> = [['errmsg', scrubbed], ['reply message', error.message]]
  for (const [name, text] of shown) t.notOk(text.includes(appSecret.slice(0, 15)), `${name}: not even the first 15 characters of the secret`)
})

const GOOD: WechatAppOptions = { appId: 'wx0123456789abcdef', appSecret: 'a-very-secret-app-secret-0123456789' }

test('wechatAppsOf: defaults, and the base URL split for the connection pool', async (t) => {
  t.same(wechatAppsOf(GOOD), [{ ...GOOD, origin: 'https://api.weixin.qq.com', pathPrefix: '', timeoutMs: 5000 }], 'WeChat\'s API, 5 s')
  const urls: Array<[string, string, string]> = [
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080', ''],
    ['https://proxy.example.com/', 'https://proxy.example.com', ''],
    ['https://proxy.example.com/wechat', 'https://proxy.example.com', '/wechat'],
    ['https://proxy.example.com/wechat/', 'https://proxy.example.com', '/wechat'],
    ['https://proxy.example.com/a/b///', 'https://proxy.example.com', '/a/b'],
    ['https://PROXY.example.com:443/api', 'https://proxy.example.com', '/api']
  ]
  for (const [baseUrl, origin, pathPrefix] of urls) {
    t.match(wechatAppsOf({ ...GOOD, baseUrl }), [{ origin, pathPrefix }], baseUrl)
  }
  const timeouts: Array<[string | number, number]> = [['800ms', 800], [2, 2000], ['1.5s', 1500]]
  for (const [timeout, timeoutMs] of timeouts) t.match(wechatAppsOf({ ...GOOD, timeout }), [{ timeoutMs }], String(timeout))
  const two = wechatAppsOf([GOOD, { appId: 'wx_second-app', appSecret: 's2', baseUrl: 'http://localhost:1/p/' }])
  t.same(two.map(({ appId, pathPrefix }) => [appId, pathPrefix]), [['wx0123456789abcdef', ''], ['wx_second-app', '/p']], 'several apps, each its own')
})

test('wechatAppsOf: refusals name the option, and never echo a secret', async (t) => {
  const secret = 'my secret with spaces'
  const cases: Array<[string, unknown, RegExp]> = [
    ['no option', undefined, /^wechat must be an object$/],
    ['empty list', [], /^wechat must be an app's options or a non-empty array of them$/],
    ['a string in the list', [GOOD, 'wx1'], /^wechat\[1\] must be an object$/],
    ['no appId', { appSecret: GOOD.appSecret }, /^wechat\.appId must be the mini-program AppID, such as 'wx0123456789abcdef' \(got undefined\)$/],
    ['appId with a space', { ...GOOD, appId: 'has space' }, /^wechat\.appId must be .*\(got "has space"\)$/],
    ['appId too long', { ...GOOD, appId: 'w'.repeat(65) }, /^wechat\.appId must be/],
    ['appId in the second app', [GOOD, { ...GOOD, appId: 42 }], /^wechat\[1\]\.appId must be .*\(got 42\)$/],
    ['the same appId twice', [GOOD, { ...GOOD }], /^wechat\[1\]\.appId wx0123456789abcdef is configured twice$/],
    ['no appSecret', { appId: GOOD.appId }, /^wechat\.appSecret must be the AppSecret from the mini-program console/],
    ['appSecret with spaces', { ...GOOD, appSecret: secret }, /^wechat\.appSecret must be/],
    ['appSecret too long', { ...GOOD, appSecret: 's'.repeat(129) }, /^wechat\.appSecret must be/],
    ['appSecret in the second app', [GOOD, { appId: 'wx2', appSecret: secret }], /^wechat\[1\]\.appSecret must be/],
    ['baseUrl not a URL', { ...GOOD, baseUrl: 'not a url' }, /^wechat\.baseUrl must be an http\(s\) URL \(got "not a url"\)$/],
    ['baseUrl ftp', { ...GOOD, baseUrl: 'ftp://example.com' }, /^wechat\.baseUrl must be an http\(s\) URL without query, fragment or credentials/],
    ['baseUrl with a query', { ...GOOD, baseUrl: 'https://example.com/?a=1' }, /^wechat\.baseUrl must be .*without query/],
    ['baseUrl with a fragment', { ...GOOD, baseUrl: 'https://example.com/#x' }, /^wechat\.baseUrl must be .*without query/],
    ['baseUrl with credentials (not repeated)', { ...GOOD, baseUrl: 'https://user:pw@example.com' }, /^wechat\.baseUrl must be an http\(s\) URL without credentials$/],
    ['timeout negative', { ...GOOD, timeout: -1 }, /^wechat\.timeout must be a positive number of seconds/],
    ['timeout in words', [GOOD, { ...GOOD, appId: 'wx2', timeout: 'soon' }], /^wechat\[1\]\.timeout must be a positive number .*\(got "soon"\)$/]
  ]
  for (const [name, apps, message] of cases) {
    let error: unknown = null
    try {
      wechatAppsOf(apps as WechatAppOptions)
    } catch (err) {
      error = err
    }
    t.match(error, { name: 'TypeError', message }, name)
    const text = String((error as Error | null)?.message)
    t.notOk(text.includes(GOOD.appSecret) || text.includes(secret), `${name}: no secret in the message`)
  }
})

test('wechatAppsOf: a baseUrl with only a password is refused like any credentials', async (t) => {
  t.throws(() => wechatAppsOf({ ...GOOD, baseUrl: 'https://:pw@example.com' }), { message: /^wechat\.baseUrl must be .*credentials/ })
})

test('whatever the upstream chose goes into an error scrubbed and cut short: errcode, err_no, log_id', async (t) => {
  const secret = 'app-secret-0123456789abcdef'
  const long = { nested: 'x'.repeat(30_000) }
  for (const [name, { error }] of [
    ['a WeChat errcode that is a string', errcodeError('wx1', 'sns/jscode2session', { errcode: `bad ${secret}` as never, errmsg: 'm' }, [secret])],
    ['a WeChat errcode that is an object', errcodeError('wx1', 'sns/jscode2session', { errcode: long }, [secret])],
    ['a Douyin err_no that is a string', errNoError('tt1', 'apps/v2/jscode2session', { err_no: `bad ${secret}`, err_tips: 'm' }, [secret])],
    ['a Douyin err_no that is an object', errNoError('tt1', 'apps/v2/jscode2session', { err_no: long }, [secret])],
    ['a Douyin log_id', errNoError('tt1', 'apps/v2/jscode2session', { err_no: 40000, log_id: `id-${secret}` }, [secret])]
  ] as const) {
    t.notOk(error.message.includes(secret), `${name}: no secret`)
    t.ok(error.message.length < 400, `${name}: cut short (${error.message.length} characters)`)
  }
})

test('a login reply\'s session_key must be an AES-128 key (base64 of 16 bytes), else 502 at login', async (t) => {
  t.equal(sessionKeyField({ session_key: 'tiihtNczf5v6AKRyjwEUhQ==' }, 'sns/jscode2session'), 'tiihtNczf5v6AKRyjwEUhQ==')
  for (const value of ['short', 'tiihtNczf5v6AKRyjwEUhQ', 'tiihtNczf5v6AKRyjwEUhQ==tiihtNczf5v6AKRyjwEUhQ==', 'tiihtNczf5v6AKRyjw-UhQ==', '', 42, null]) {
    t.throws(() => sessionKeyField({ session_key: value }, 'sns/jscode2session'), { code: 'MPA_UPSTREAM_ERROR', statusCode: 502 }, JSON.stringify(value))
  }
  t.notMatch((() => { try { sessionKeyField({ session_key: 'secret-ish value' }, 'e') } catch (err) { return (err as Error).message } })(), /secret-ish/, 'the value is not repeated')
})
