import { test } from 'tap'
import { createHash } from 'node:crypto'
import { Apps, appOptionsOf } from '../../lib/apps.js'
import { chinaTimestamp } from '../../lib/china-time.js'
import { deviceLabel } from '../../lib/device.js'
import { parseDuration } from '../../lib/duration.js'
import { sha256Base64url } from '../../lib/hash.js'
import { seal, unseal } from '../../lib/seal.js'
import { generateSkey, isWellFormedSkey, SESSION_ID_PATTERN, sessionIdOf } from '../../lib/skey.js'

// The pure helpers of lib/, without Redis or a server.

test('parseDuration: seconds as a number, or a string with a unit, in whole milliseconds', async (t) => {
  const cases: Array<[number | string, number]> = [
    [30, 30_000],
    [0.5, 500],
    [3600, 3_600_000],
    ['500ms', 500],
    ['30s', 30_000],
    ['15m', 900_000],
    ['12h', 43_200_000],
    ['7d', 604_800_000],
    ['1.5s', 1500],
    ['2.5m', 150_000],
    ['0.5d', 43_200_000],
    ['10 ms', 10],
    ['  30s\n', 30_000],
    // Fractions of a millisecond round up: Redis PX and PEXPIRE take integers.
    [1 / 3, 334],
    [0.0001, 1],
    ['0.5ms', 1],
    ['1.0001s', 1001]
  ]
  for (const [value, ms] of cases) t.equal(parseDuration(value, 'session.ttl'), ms, `${JSON.stringify(value)} → ${ms} ms`)
})

test('parseDuration: a bad value is a TypeError naming the option and quoting the value', async (t) => {
  const bad: unknown[] = [
    0, -1, -0.5, NaN, Infinity, -Infinity, '', '30', '7 days', '1x', '-5s', '0s', '0ms', '0.0m', '30S', '1e3s', 's',
    '30s 30s', null, undefined, true, {}, [30], ['30s']
  ]
  for (const value of bad) {
    const label = String(JSON.stringify(value))
    t.throws(() => parseDuration(value, 'wechat[1].timeout'), {
      name: 'TypeError',
      message: /^wechat\[1\]\.timeout must be a positive number of seconds or a string like '30m', '12h' or '7d'/
    }, label)
  }
  t.throws(() => parseDuration('7 days', 'session.maxAge'), { message: /^session\.maxAge .*\(got "7 days"\)$/ }, 'the value is quoted')
})

test('parseDuration: a value that is already whole milliseconds gets no extra millisecond', async (t) => {
  const cases: Array<[number | string, number]> = [[4.03, 4030], ['4.03s', 4030], ['8.3m', 498_000], ['1.1h', 3_960_000], ['1.1d', 95_040_000]]
  for (const [value, ms] of cases) t.equal(parseDuration(value, 'session.ttl'), ms, `${JSON.stringify(value)} → ${ms} ms`)
})

test('skeys: 32 random bytes as base64url, and the shape check every request goes through', async (t) => {
  const skeys = Array.from({ length: 500 }, generateSkey)
  t.equal(new Set(skeys).size, skeys.length, 'no two alike')
  t.ok(skeys.every((skey) => /^[A-Za-z0-9_-]{43}$/.test(skey)), '43 base64url characters, no padding')
  t.ok(skeys.every((skey) => Buffer.from(skey, 'base64url').length === 32), '32 bytes')
  t.ok(skeys.every(isWellFormedSkey), 'every generated skey is well formed')

  const skey = skeys[0] as string
  const notSkeys: Array<[string, unknown]> = [
    ['one character short', skey.slice(1)],
    ['one character long', skey + 'A'],
    ['standard base64 alphabet', skey.slice(0, 41) + '+/'],
    ['padding', skey.slice(0, 42) + '='],
    ['a space inside', skey.slice(0, 20) + ' ' + skey.slice(21)],
    ['a trailing newline', skey + '\n'],
    ['non-ASCII', skey.slice(0, 42) + 'é'],
    ['empty', ''],
    ['a session id', sessionIdOf(skey)],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['a Buffer of a good skey', Buffer.from(skey)],
    ['an array of a good skey', [skey]]
  ]
  for (const [name, value] of notSkeys) t.equal(isWellFormedSkey(value), false, name)
  t.equal(isWellFormedSkey('A'.repeat(43)), true, 'shape only: any 43 base64url characters')
  t.equal(isWellFormedSkey('-_'.repeat(21) + 'z'), true, 'the URL-safe characters')
})

test('session ids: sha256 of the skey cut to 128 bits, stable, never the skey', async (t) => {
  const skey = generateSkey()
  const id = sessionIdOf(skey)
  t.equal(sessionIdOf(skey), id, 'the same skey always names the same session')
  t.match(id, SESSION_ID_PATTERN)
  t.equal(Buffer.from(id, 'base64url').length, 16, '128 bits')
  t.equal(Buffer.from(id, 'base64url').toString('hex'), sha256Hex(skey).slice(0, 32), 'the first half of sha256(skey)')
  t.not(sessionIdOf(generateSkey()), id, 'another skey, another id')
  // The id is cut from the digest's string: it must stay the canonical encoding of
  // exactly those 16 bytes (the Redis keys of sessions made before depend on it).
  for (let i = 0; i < 2000; i++) {
    const another = generateSkey()
    const expected = createHash('sha256').update(another).digest().subarray(0, 16).toString('base64url')
    if (sessionIdOf(another) !== expected) t.fail(`sessionIdOf(${another}) is ${sessionIdOf(another)}, not ${expected}`)
  }
  t.notOk(skey.includes(id) || id.includes(skey.slice(0, 8)), 'the id shows nothing of the skey')

  const notIds: Array<[string, string]> = [['an skey', skey], ['21 characters', id.slice(1)], ['23 characters', id + 'A'], ['a slash', id.slice(1) + '/']]
  for (const [name, value] of notIds) t.notMatch(value, SESSION_ID_PATTERN, `the id pattern refuses ${name}`)
})

function sha256Hex (text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

test('sha256Base64url: the published SHA-256 vectors, as unpadded base64url', async (t) => {
  // FIPS 180-2 examples: sha256('abc') and sha256('').
  t.equal(Buffer.from(sha256Base64url('abc'), 'base64url').toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  t.equal(sha256Base64url(''), '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU')
  t.equal(sha256Base64url('abc'), 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0')
  t.equal(sha256Base64url('小明'), '3z6iWkNpMFqCQS1HmiG9Xi1g4lbUFgco4h-usoBs3j8', 'text hashes as its UTF-8 bytes (as latin1 it would be zT0Ouk…)')
  t.not(sha256Base64url('code-1'), sha256Base64url('code-2'))
  t.match(sha256Base64url('a login code'), /^[A-Za-z0-9_-]{43}$/, 'fits a Redis key: 43 characters, no padding')
})

test('seal: round trip under the same secret and context', async (t) => {
  const plaintexts = ['', 'hello', JSON.stringify({ skey: generateSkey(), expiresAt: 1 }), '小明 🐼👨‍👩‍👧', 'x'.repeat(10_000)]
  for (const plaintext of plaintexts) {
    const box = seal(plaintext, 'the login code', 'wechat:wx1')
    t.equal(unseal(box, 'the login code', 'wechat:wx1'), plaintext, `${plaintext.length} characters`)
    t.match(box, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/, 'three base64url parts')
    if (plaintext.length > 0) t.notOk(box.includes(plaintext), 'the plaintext does not show')
  }
  const twice = [seal('same', 's', 'c'), seal('same', 's', 'c')]
  t.not(twice[0], twice[1], 'a fresh iv each time')
  t.same(twice.map((box) => unseal(box, 's', 'c')), ['same', 'same'])
})

test('seal: only the same secret and context open a box', async (t) => {
  const box = seal('{"skey":"x"}', 'code-1', 'wechat:wx1')
  const wrong: Array<[string, string, string]> = [
    ['another secret', 'code-2', 'wechat:wx1'],
    ['another context', 'code-1', 'wechat:wx2'],
    ['secret and context swapped', 'wechat:wx1', 'code-1'],
    ['an empty secret', '', 'wechat:wx1'],
    ['the secret with a trailing space', 'code-1 ', 'wechat:wx1']
  ]
  for (const [name, secret, context] of wrong) t.equal(unseal(box, secret, context), null, name)
})

test('seal: a tampered or garbled box is null, never an exception', async (t) => {
  const box = seal('a secret answer', 'code', 'ctx')
  const [iv, tag, body] = box.split('.') as [string, string, string]
  // Changing a part's first character changes its bytes (all six bits count).
  const flip = (part: string): string => (part[0] === 'A' ? 'g' : 'A') + part.slice(1)
  const other = seal('another answer!', 'code', 'ctx').split('.') as [string, string, string]
  const garbled: Array<[string, string]> = [
    ['tampered iv', [flip(iv), tag, body].join('.')],
    ['tampered tag', [iv, flip(tag), body].join('.')],
    ['tampered body', [iv, tag, flip(body)].join('.')],
    ['truncated body', [iv, tag, body.slice(0, -4)].join('.')],
    ['the body of another box', [iv, tag, other[2]].join('.')],
    ['the tag of another box', [iv, other[1], body].join('.')],
    ['parts reordered', [tag, iv, body].join('.')],
    ['iv of 11 bytes', [Buffer.alloc(11).toString('base64url'), tag, body].join('.')],
    ['tag of 15 bytes', [iv, Buffer.alloc(15).toString('base64url'), body].join('.')],
    ['two parts', [iv, tag].join('.')],
    ['one part', iv],
    ['empty', ''],
    ['dots only', '..'],
    ['not base64url at all', '%%%.%%%.%%%'],
    ['a JSON string', '{"skey":"x"}']
  ]
  for (const [name, value] of garbled) {
    let opened: string | null = 'threw'
    try {
      opened = unseal(value, 'code', 'ctx')
    } catch {}
    t.equal(opened, null, name)
  }
})

test('appOptionsOf: one app or a list, each named as errors will name it', async (t) => {
  const one = { appId: 'wx1' }
  t.same(appOptionsOf(one, 'wechat'), [{ options: one, name: 'wechat' }], 'a single app is named after the option')
  const many = [{ appId: 'wx1' }, { appId: 'wx2' }, { appId: 'wx3' }]
  const listed = appOptionsOf(many, 'alipay')
  t.same(listed.map(({ name }) => name), ['alipay[0]', 'alipay[1]', 'alipay[2]'])
  t.ok(listed.every(({ options }, i) => options === many[i]), 'the options themselves, in order')
  t.same(appOptionsOf([one], 'wechat').map(({ name }) => name), ['wechat[0]'], 'a list of one is still a list')

  const refusals: Array<[unknown, RegExp]> = [
    [[], /^wechat must be an app's options or a non-empty array of them$/],
    [undefined, /^wechat must be an object$/],
    [null, /^wechat must be an object$/],
    ['wx1', /^wechat must be an object$/],
    [[one, 'wx2'], /^wechat\[1\] must be an object$/],
    [[one, null], /^wechat\[1\] must be an object$/],
    [[one, { appId: 'wx2' }, { appId: 'wx1' }], /^wechat\[2\]\.appId wx1 is configured twice$/]
  ]
  for (const [value, message] of refusals) {
    t.throws(() => appOptionsOf(value, 'wechat'), { name: 'TypeError', message }, String(message))
  }
})

test('Apps: by appId, the first is the default, others are MPA_UNKNOWN_APP', async (t) => {
  const apps = new Apps([{ appId: 'wx1', n: 1 }, { appId: 'wx2', n: 2 }])
  t.same(apps.ids, ['wx1', 'wx2'])
  t.equal(apps.get().n, 1, 'no appId: the first app')
  t.equal(apps.get(undefined).n, 1)
  t.equal(apps.get('wx2').n, 2)
  t.equal(apps.get('wx1').n, 1)
  for (const appId of ['wx3', '', 'WX1', ' wx1']) {
    t.throws(() => apps.get(appId), { code: 'MPA_UNKNOWN_APP', statusCode: 400, message: `The appId ${JSON.stringify(appId)} is not configured on this server` }, JSON.stringify(appId))
  }
  t.throws(() => new Apps([]).get(), { code: 'MPA_UNKNOWN_APP' }, 'no apps at all: nothing to default to')
})

test('deviceLabel: the platform part of a user agent, at most 48 characters', async (t) => {
  const cases: Array<[string, string]> = [
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.44',
      'iPhone; CPU iPhone OS 17_0 like Mac OS X'],
    ['Mozilla/5.0 (Linux; Android 14; 23116PN5BC Build/UKQ1.230804.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) XWEB/1160083 MMWEBSDK/20231202',
      'Linux; Android 14; 23116PN5BC Build/UKQ1.230804.'],
    ['AlipayClient/10.5.36 (iPhone; iOS 16.6)', 'iPhone; iOS 16.6'],
    ['curl/8.4.0', 'curl/8.4.0'],
    ['okhttp/4.12.0 ' + 'x'.repeat(100), ('okhttp/4.12.0 ' + 'x'.repeat(100)).slice(0, 48)],
    ['agent (' + 'y'.repeat(80) + ')', 'y'.repeat(48)],
    ['empty parentheses () then (Windows NT 10.0)', 'Windows NT 10.0'],
    ['', '']
  ]
  for (const [userAgent, label] of cases) t.equal(deviceLabel(userAgent), label, userAgent.slice(0, 40) || 'empty')
  t.equal(Math.max(...cases.map(([userAgent]) => deviceLabel(userAgent).length)), 48, 'cut at 48 characters')
})

test('chinaTimestamp: an instant as the wall clock in China (GMT+8), whatever TZ says', async (t) => {
  const instants: Array<[number, string]> = [
    [Date.UTC(2024, 0, 1, 16, 30, 5, 999), '2024-01-02 00:30:05'],
    [Date.UTC(2023, 11, 31, 23, 59, 59), '2024-01-01 07:59:59'],
    [Date.UTC(2024, 1, 28, 20, 0, 0), '2024-02-29 04:00:00'],
    [Date.UTC(2024, 6, 1, 3, 4, 5), '2024-07-01 11:04:05'],
    [0, '1970-01-01 08:00:00']
  ]
  const original = process.env.TZ
  t.teardown(() => {
    if (original === undefined) delete process.env.TZ
    else process.env.TZ = original
  })
  const zones = ['UTC', 'America/Los_Angeles', 'Asia/Shanghai', 'Asia/Kolkata', 'Pacific/Kiritimati']
  const localHours = new Set<number>()
  for (const zone of zones) {
    process.env.TZ = zone
    localHours.add(new Date(instants[0]![0]).getHours())
    for (const [instant, expected] of instants) t.equal(chinaTimestamp(instant), expected, `${expected} under TZ=${zone}`)
  }
  t.ok(localHours.size > 1, 'the zones did change local time in this process, so the check above means something')

  // An independent oracle: ICU's Asia/Shanghai ('sv-SE' formats as yyyy-mm-dd hh:mm:ss).
  const shanghai = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai', dateStyle: 'short', timeStyle: 'medium' })
  for (const [instant] of instants) t.equal(chinaTimestamp(instant), shanghai.format(instant), `ICU agrees at ${instant}`)

  const before = Date.now()
  const now = chinaTimestamp()
  const after = Date.now()
  t.match(now, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/)
  t.ok(chinaTimestamp(before) <= now && now <= chinaTimestamp(after), 'no argument: the current instant')
})
