import { test, type Test } from 'tap'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { request } from 'undici'
import { MAX_BODY_BYTES, SandboxServer, type SandboxFault, type SandboxHandler } from '../../sandbox/kit.js'
import { createAlipaySandbox, createWechatSandbox } from '../../sandbox/index.js'

// The plumbing both sandboxes stand on, checked on its own and through them.

type Target = 'a' | 'b'

async function serve (t: Test, handler: SandboxHandler, targets?: readonly Target[]): Promise<SandboxServer<Target, SandboxFault & { tag?: string }>> {
  const server = new SandboxServer<Target, SandboxFault & { tag?: string }>('Test sandbox', targets)
  await server.listen(handler)
  t.teardown(() => server.close())
  return server
}

async function post (url: string, body: string): Promise<{ status: number, text: string }> {
  const response = await request(url, { method: 'POST', body })
  return { status: response.statusCode, text: await response.body.text() }
}

test('bodies up to MAX_BODY_BYTES reach the handler; a larger one gets a 413 that says why', async (t) => {
  const seen: number[] = []
  const server = await serve(t, ({ body }) => {
    seen.push(body.length)
    return { body: 'ok' }
  })
  t.same(await post(server.url, 'x'.repeat(MAX_BODY_BYTES)), { status: 200, text: 'ok' })
  const refused = await post(server.url, 'x'.repeat(MAX_BODY_BYTES + 1))
  t.equal(refused.status, 413)
  t.equal(refused.text, `Test sandbox: request body over ${MAX_BODY_BYTES} bytes`)
  t.same(seen, [MAX_BODY_BYTES], 'the handler never saw the large one')
  t.same(await post(server.url, '{}'), { status: 200, text: 'ok' }, 'and the server still answers')
})

test('both sandboxes refuse a large body the same way', async (t) => {
  const wechat = await createWechatSandbox({ apps: { wx1: 'secret' } })
  const alipay = await createAlipaySandbox()
  t.teardown(() => Promise.all([wechat.close(), alipay.close()]))
  const huge = 'x'.repeat(MAX_BODY_BYTES + 1)
  t.match(await post(`${wechat.url}/cgi-bin/stable_token`, huge), { status: 413, text: /^WeChat sandbox: request body over/ })
  t.match(await post(alipay.url, huge), { status: 413, text: /^Alipay sandbox: request body over/ })
  t.equal(wechat.calls() + alipay.calls(), 0, 'not counted: the platform never saw them')
})

test('the fault queue: times, order, the * fallback, clearFaults, known targets', async (t) => {
  const server = await serve(t, () => ({ body: '' }), ['a', 'b'])
  server.fail('a', { tag: 'twice', times: 2 })
  server.fail('a', { tag: 'then once' })
  server.fail('*', { tag: 'any' })
  const tags = (target: Target): Array<string | undefined> => [1, 2, 3, 4, 5].map(() => server.takeFault(target)?.tag)
  t.same(tags('a'), ['twice', 'twice', 'then once', 'any', undefined], "a target's own faults first, in order, then '*'")

  server.fail('b', { tag: 'always', times: Infinity })
  t.same(tags('b'), ['always', 'always', 'always', 'always', 'always'])
  server.clearFaults()
  t.equal(server.takeFault('b'), undefined, 'clearFaults drops even endless faults')

  t.throws(() => server.fail('c' as Target, {}), /^Test sandbox: no endpoint "c"$/, 'only known targets, when the sandbox names them')
})

test('calls count per target and in all; secrets lists what was remembered', async (t) => {
  const server = await serve(t, ({ url }) => {
    server.count(url.pathname.slice(1))
    return { body: server.remember(`token-${url.pathname}`) }
  })
  for (const path of ['/a', '/a', '/b']) await request(`${server.url}${path}`).then((r) => r.body.text())
  t.equal(server.calls('a'), 2)
  t.equal(server.calls('b'), 1)
  t.equal(server.calls(), 3)
  t.same(server.secrets(), ['token-/a', 'token-/b'])
})

test('a handler that throws gets a 500 naming the sandbox, not a hung client', async (t) => {
  const server = await serve(t, () => { throw new Error('bug') })
  t.same(await post(server.url, ''), { status: 500, text: 'Test sandbox: Error: bug' })
})

test('close() cancels delayed and held answers at once and waits for their handlers', async (t) => {
  let started!: () => void
  const handlersStarted = new Promise<void>((resolve) => { started = resolve })
  let resumed = 0
  let arrived = 0
  const server = new SandboxServer<Target, SandboxFault>('Test sandbox')
  const never = new Promise<void>(() => {})
  await server.listen(async ({ url }) => {
    if (++arrived === 2) started()
    await server.held(url.pathname === '/delayed' ? { delayMs: 60_000 } : { until: never })
    resumed++
    return { body: 'late' }
  })
  const pending = Promise.all(['/delayed', '/held'].map((path) => request(server.url + path).then((r) => r.body.text(), (err: unknown) => err)))
  await handlersStarted
  const before = Date.now()
  await server.close()
  t.ok(Date.now() - before < 1000, 'close() did not wait for the minute, nor for the held answer')
  const [delayed, held] = await pending
  t.type(delayed, Error, 'the client saw its connection close, not an answer')
  t.type(held, Error, 'the held one too')
  t.equal(resumed, 0, 'no handler went on after the cancelled wait')
  await t.rejects(server.held({ delayMs: 1 }), 'a delay after close is cancelled at once')
  await server.close() // twice is fine
})

test('a held answer goes out when its promise settles, not before', async (t) => {
  const server = new SandboxServer<Target, SandboxFault>('Test sandbox')
  t.teardown(() => server.close())
  let release!: () => void
  const until = new Promise<void>((resolve) => { release = resolve })
  let arrive!: () => void
  const arrived = new Promise<void>((resolve) => { arrive = resolve })
  let answered = false
  await server.listen(async ({ url }) => {
    if (url.pathname === '/quick') return { body: 'quick' }
    arrive()
    await server.held({ until })
    return { body: 'released' }
  })
  const reply = request(`${server.url}/held`).then(async (r) => { answered = true; return r.body.text() })
  await arrived
  // A whole exchange after it: an answer that was not held would be back by now.
  t.equal(await (await request(`${server.url}/quick`)).body.text(), 'quick')
  t.equal(answered, false, 'held while the promise is pending')
  release()
  t.equal(await reply, 'released')
})

test('a sandbox with a delayed fault closes at once', async (t) => {
  const wechat = await createWechatSandbox({ apps: { wx1: 'secret' } })
  const alipay = await createAlipaySandbox()
  wechat.fail('jscode2session', { delayMs: 60_000 })
  alipay.fail('*', { delayMs: 60_000 })
  const pending = [
    request(`${wechat.url}/sns/jscode2session?appid=wx1`).catch((err: unknown) => err),
    request(`${alipay.url}?method=x`).catch((err: unknown) => err)
  ]
  while (wechat.calls() + alipay.calls() < 2) await new Promise((resolve) => setTimeout(resolve, 5))
  const before = Date.now()
  await Promise.all([wechat.close(), alipay.close()])
  t.ok(Date.now() - before < 1000)
  for (const outcome of await Promise.all(pending)) t.type(outcome, Error)
})

/** Whether this machine can listen on ::1. */
async function hasIpv6Loopback (): Promise<boolean> {
  const probe = createServer()
  const available = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false))
    probe.listen(0, '::1', () => resolve(true))
  })
  if (available) {
    probe.close()
    await once(probe, 'close')
  }
  return available
}

const ipv6 = await hasIpv6Loopback()
test('IPv6: the URL brackets the address', { skip: ipv6 ? false : '::1 is not available on this machine (no IPv6 loopback)' }, async (t) => {
  const server = new SandboxServer<Target, SandboxFault>('Test sandbox')
  const url = await server.listen(() => ({ body: 'v6' }), '::1')
  t.teardown(() => server.close())
  t.match(url, /^http:\/\/\[::1\]:\d+$/)
  t.equal(await request(url).then((r) => r.body.text()), 'v6')

  const wechat = await createWechatSandbox({ host: '::1' })
  const alipay = await createAlipaySandbox({ host: '::1' })
  t.teardown(() => Promise.all([wechat.close(), alipay.close()]))
  t.match(wechat.url, /^http:\/\/\[::1\]:\d+$/)
  t.match(alipay.url, /^http:\/\/\[::1\]:\d+\/gateway\.do$/)
  t.equal((await request(`${alipay.url.replace('/gateway.do', '')}/nowhere`)).statusCode, 404, 'and it answers there')
})
