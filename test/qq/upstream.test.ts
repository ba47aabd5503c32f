import t, { test } from 'tap'
import { createQqSandbox, type QqSandbox } from '../../sandbox/qq.js'
import { monitorRedis } from '../helpers/monitor.js'
import { World } from '../helpers/world.js'

// QQ's login through the real HTTP client against the QQ sandbox and real
// Redis: replayed, expired and used codes, and what QQ's upstream does wrong.
// The shared code is WeChat's (test/wechat/login.test.ts); this proves QQ's
// wiring gets the same answers.

type Fault = Parameters<QqSandbox['fail']>[1]

const APP_ID = '1110000003'
const SECRET = 'qq-upstream-secret-0123456789abcdef'
const clock = { ms: Date.now() }
const sandbox = await createQqSandbox({ apps: { [APP_ID]: SECRET }, now: () => clock.ms })
t.teardown(() => sandbox.close())
const world = new World(t, 'qq-upstream')
world.watch(() => sandbox.secrets())
const qq = { appId: APP_ID, appSecret: SECRET, baseUrl: sandbox.url, timeout: '300ms' }
const app = await world.build({ qq })
const calls = () => sandbox.calls('jscode2session')
const post = (code: string, on = app) => world.post(on, '/auth/qq/login', { code })

test('a replayed code gets the first answer back, with one upstream call, also on two instances at once', async (t) => {
  const before = calls()
  const code = sandbox.issueCode({ openId: 'o-replay' })
  const first = await post(code)
  t.equal(first.statusCode, 200)
  const again = await post(code)
  t.same(again.json, first.json, 'the same skey, not a 401')
  t.equal(calls() - before, 1, 'the second post did not reach QQ')

  // Two instances whose timeout is not under test: QQ's answer to the first
  // is held until the second instance's claim of the code has reached Redis.
  const [one, other] = await Promise.all([1, 2].map(() => world.build({ qq: { ...qq, timeout: '5s' } })))
  const monitor = await monitorRedis(world.redis)
  t.teardown(() => monitor.stop())
  const concurrent = sandbox.issueCode({ openId: 'o-concurrent' })
  let release!: () => void
  sandbox.fail('jscode2session', { until: new Promise<void>((resolve) => { release = resolve }) })
  const claims = (command: { args: string[] }) => command.args[0]?.toLowerCase() === 'set' && command.args[1]?.startsWith(`${world.prefix}code:`) === true &&
    command.args.some((arg) => arg.toUpperCase() === 'NX')
  const pending = [post(concurrent, one)]
  await monitor.seen(1, claims)
  pending.push(post(concurrent, other))
  await monitor.seen(2, claims)
  release()
  const [a, b] = await Promise.all(pending)
  t.same([a!.statusCode, b!.statusCode], [200, 200])
  t.equal(a!.json.skey, b!.json.skey, 'one claim: both instances answer with the same session')
  t.equal(calls() - before, 2, 'one upstream call for the two concurrent posts')
})

test('an expired or a used code: 401 MPA_CODE_INVALID', async (t) => {
  const late = sandbox.issueCode({ openId: 'o-late' })
  clock.ms += 5 * 60_000
  t.match((await post(late)).json, { statusCode: 401, code: 'MPA_CODE_INVALID', message: /errcode 40029/ }, 'expired after 5 minutes')
  clock.ms = Date.now()

  const used = sandbox.issueCode({ openId: 'o-used' })
  t.equal((await post(used)).statusCode, 200)
  // Another instance with Redis keys of its own: no replay window knows the code.
  const elsewhere = await world.build({ qq, keyPrefix: world.subPrefix() })
  t.match((await post(used, elsewhere)).json, { statusCode: 401, code: 'MPA_CODE_INVALID', message: /errcode 40163/ }, 'used')
})

test('upstream faults: each maps to its error, with the documented number of calls', async (t) => {
  // [what, fault, status, code, message, upstream calls]
  const table: Array<[string, Fault, number, string | undefined, RegExp | undefined, number]> = [
    ['timeout', { delayMs: 1500 }, 504, 'MPA_UPSTREAM_TIMEOUT', undefined, 1],
    ['HTTP 500', { httpStatus: 500 }, 502, 'MPA_UPSTREAM_ERROR', /HTTP 500/, 1],
    ['HTTP 503', { httpStatus: 503 }, 502, 'MPA_UPSTREAM_ERROR', /HTTP 503/, 1],
    ['a body that is not JSON', { malformed: true }, 502, 'MPA_UPSTREAM_ERROR', /not a JSON object/, 1],
    ['busy once: the retry succeeds', { errcode: -1 }, 200, undefined, undefined, 2],
    ['busy twice: one retry, never two', { errcode: -1, times: 2 }, 502, 'MPA_UPSTREAM_ERROR', /errcode -1/, 2],
    ['invalid appsecret', { errcode: 40125 }, 500, 'MPA_MISCONFIGURED', /^Server misconfiguration: QQ refused app 1110000003/, 1],
    ['invalid appid', { errcode: 40013 }, 500, 'MPA_MISCONFIGURED', /^Server misconfiguration: QQ refused app 1110000003/, 1]
  ]
  for (const [what, fault, statusCode, code, message, upstream] of table) {
    sandbox.fail('jscode2session', fault)
    const before = calls()
    const logged = world.logs.lines.length
    const started = Date.now()
    const reply = await post(sandbox.issueCode({ openId: 'o-fault' }))
    t.equal(reply.statusCode, statusCode, `${what} → ${statusCode}`)
    if (code) t.match(reply.json, { statusCode, code, ...(message ? { message } : {}) }, `${what} → ${code}`)
    t.equal(calls() - before, upstream, `${what}: ${upstream} upstream call(s)`)
    if (fault.delayMs) t.ok(Date.now() - started < fault.delayMs, 'the timeout did not wait for the slow answer')
    if (statusCode === 500) {
      const lines = world.logs.lines.slice(logged)
      t.ok(lines.some((line) => /"level":50/.test(line) && line.includes(`QQ refused app ${APP_ID}`) && line.includes('check the qq appId/appSecret options')),
        `${what}: logged at error level, naming QQ and its option`)
      t.notMatch(reply.body, SECRET, `${what}: the app secret is not in the reply`)
      t.notMatch(lines.join(''), SECRET, `${what}: nor in the log`)
    }
  }
  t.equal((await post(sandbox.issueCode({ openId: 'o-after' }))).statusCode, 200, 'no fault left over')
})

test('no session_key, app secret or skey in any reply or log line', async (t) => {
  world.assertNoSecrets(t)
})

test('the sandbox serves QQ\'s paths: jscode2session and api/getToken, not WeChat\'s token or phone endpoints', async (t) => {
  const token = await (await fetch(`${sandbox.url}/api/getToken?${new URLSearchParams({ grant_type: 'client_credential', appid: APP_ID, secret: SECRET })}`)).json() as Record<string, unknown>
  t.match(token, { access_token: /^[A-Za-z0-9_-]{64}$/, expires_in: 7200 })
  for (const path of ['/cgi-bin/token', '/cgi-bin/stable_token', '/wxa/business/getuserphonenumber', '/wxa/checksession']) {
    t.match(await (await fetch(`${sandbox.url}${path}`)).json(), { errcode: 40066, errmsg: /^invalid url/ }, `${path}: not QQ's`)
  }
})
