import { test } from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { displayUrl } from '../../examples/demo/redis.js'
import { freePort, REDIS_URL } from '../helpers/redis.js'

// `npm start`: the demo in processes of its own, as a user starts it (the
// demo in-process: demo.test.ts). A file of its own: each start loads the
// whole demo from its TypeScript sources, seconds of CPU.

/**
 * The demo as `npm start` runs it (from the sources, with the tests'
 * TypeScript loader). `printed(stream, text)` resolves once that stream has
 * shown `text`, or the demo has ended; `closed` once it has exited and both
 * pipes are drained (its exit code).
 */
function runDemo (env: Record<string, string>) {
  const main = fileURLToPath(new URL('../../examples/demo/main.ts', import.meta.url))
  const child = spawn(process.execPath, [...process.execArgv, main], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const output = { stdout: '', stderr: '' }
  child.stdout.on('data', (chunk) => { output.stdout += chunk })
  child.stderr.on('data', (chunk) => { output.stderr += chunk })
  const closed = once(child, 'close').then(([code]) => code as number | null)
  const printed = (name: 'stdout' | 'stderr', text: string) => Promise.race([
    new Promise<void>((resolve) => {
      const check = () => { if (output[name].includes(text)) resolve() }
      child[name].on('data', check)
      check()
    }),
    closed
  ])
  return { child, output, printed, closed }
}

test('npm start: prints its URLs, serves, and exits cleanly on SIGTERM', async (t) => {
  const { child, output, printed, closed } = runDemo({ PORT: '0', REDIS_URL })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  await printed('stdout', 'Ctrl+C stops it.\n')
  const url = /simulator page\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(output.stdout)?.[1]
  t.ok(url, `prints the page URL:\n${output.stdout}${output.stderr}`)
  t.match(output.stdout, /API docs\s+http:\/\/127\.0\.0\.1:\d+\/docs/)
  t.match(output.stdout, /WeChat: local sandbox; Alipay: local sandbox; Douyin: local sandbox; QQ: local sandbox; WeCom: local sandbox; Kuaishou: local sandbox; Baidu: local sandbox/)
  t.equal((await fetch(`${url}/`)).status, 200)
  t.ok(output.stdout.includes(`sessions in Redis at ${displayUrl(REDIS_URL)} (REDIS_URL)`), 'says which Redis')

  child.kill('SIGTERM')
  t.equal(await closed, 0, 'exit code 0')
  t.match(output.stdout, /SIGTERM: closing the server, the sandboxes and Redis/)
  t.equal(output.stderr, '', 'nothing on stderr')
})

test('npm start with HOST off loopback: a warning, and the simulator still only for this machine', async (t) => {
  const { child, output, printed, closed } = runDemo({ PORT: '0', HOST: '0.0.0.0', REDIS_URL })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  // The warning goes out before the banner, but through the other pipe: wait for each.
  await Promise.all([printed('stdout', 'Ctrl+C stops it.\n'), printed('stderr', 'Unset HOST to keep the whole demo on 127.0.0.1.\n')])
  const port = /simulator page\s+http:\/\/0\.0\.0\.0:(\d+)\//.exec(output.stdout)?.[1]
  t.ok(port, `prints the page URL:\n${output.stdout}${output.stderr}`)
  t.match(output.stderr, /^Warning: with HOST=0\.0\.0\.0 other machines can reach the demo\. .* answers them 403/)
  t.equal(output.stderr.trim().split('\n').length, 1, 'one paragraph')
  t.equal((await fetch(`http://127.0.0.1:${port}/demo/config`)).status, 200, 'from this machine, the simulator works')
  child.kill('SIGTERM')
  t.equal(await closed, 0)
})

test('npm start with a setup problem: one paragraph, exit code 1, no stack trace', async (t) => {
  const problems = {
    'no Redis': [{ REDIS_URL: `redis://127.0.0.1:${await freePort()}` }, /^REDIS_URL is redis:\/\/127\.0\.0\.1:\d+\/? but no Redis answers there .*\n$/],
    'a HOST the DNS does not know': [{ HOST: 'nosuchhost.invalid', REDIS_URL }, /^HOST nosuchhost\.invalid (is not a name the DNS knows|could not be looked up)/]
  } as const
  // In parallel: each start costs seconds of TypeScript loading.
  const runs = Object.entries(problems).map(([name, [env, message]]) => {
    const { output, closed } = runDemo({ PORT: '0', ...env })
    return closed.then((code) => ({ name, code, message, output }))
  })
  for (const { name, code, message, output } of await Promise.all(runs)) {
    t.equal(code, 1, `${name}: exit code 1`)
    t.match(output.stderr, message, name)
    t.equal(output.stderr.trim().split('\n').length, 1, `${name}: one paragraph`)
    t.notMatch(output.stderr, /^\s+at /m, `${name}: no stack trace`)
  }
})
