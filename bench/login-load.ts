// The login load worker, a process of its own:
//   node --import tsx bench/login-load.ts '{"url":…,"platform":"wechat","codes":[…],"inFlight":50}'
// POSTs every code to the platform's login route, `inFlight` at a time, and
// sends { type: 'result', result: LoginLoadResult } over IPC. With `sandboxApp`
// (WeChat only) it asks the sandbox's jscode2session itself instead, without
// the server: the yardstick a login's throughput is read against.
import { performance } from 'node:perf_hooks'
import { Pool } from 'undici'
import type { LoginPlatform } from './sandboxes.js'
import { benchArgument } from './argument.js'

export interface LoginLoadOptions {
  url: string
  platform: LoginPlatform
  codes: string[]
  inFlight: number
  /** The WeChat sandbox app to exchange the codes with directly (`url` is then the sandbox's). */
  sandboxApp?: { appId: string, appSecret: string }
}

export interface LoginLoadResult {
  loginsPerSecond: number
  total: number
  failures: number
  /** The first failure's status and body. */
  firstFailure?: string
  p50Ms: number
  p99Ms: number
}

const options = benchArgument<LoginLoadOptions>()
const pool = new Pool(options.url, { connections: options.inFlight })
const path = `/auth/${options.platform}/login`
const app = options.sandboxApp
const latencies: number[] = []
let failures = 0
let firstFailure: string | undefined
let next = 0

async function loop (): Promise<void> {
  while (next < options.codes.length) {
    const code = options.codes[next++]!
    const body = options.platform === 'alipay' ? { authCode: code, scope: 'auth_base' } : { code }
    const sentAt = performance.now()
    const response = await pool.request(app === undefined
      ? { method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
      : { method: 'GET', path: `/sns/jscode2session?${new URLSearchParams({ appid: app.appId, secret: app.appSecret, js_code: code, grant_type: 'authorization_code' })}` })
    const text = await response.body.text()
    latencies.push(performance.now() - sentAt)
    // WeChat answers its errors with 200 and an errcode.
    if (response.statusCode !== 200 || (app !== undefined && !('openid' in (JSON.parse(text) as object)))) {
      failures++
      firstFailure ??= `${response.statusCode} ${text}`
    }
  }
}

const started = performance.now()
await Promise.all(Array.from({ length: options.inFlight }, loop))
const elapsed = (performance.now() - started) / 1000
await pool.close()
latencies.sort((x, y) => x - y)
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] ?? NaN
const result: LoginLoadResult = {
  loginsPerSecond: options.codes.length / elapsed,
  total: options.codes.length,
  failures,
  ...(firstFailure === undefined ? {} : { firstFailure }),
  p50Ms: at(0.5),
  p99Ms: at(0.99)
}
process.send?.({ type: 'result', result }, () => process.exit(0))
