import type { Test } from 'tap'
import type { Reply, World } from './world.js'

/** [what, fault, status, code, message, upstream calls] */
export type FaultRow<Fault> = [string, Fault, number, string | undefined, RegExp | undefined, number]

export interface FaultRun<Fault extends { delayMs?: number }> {
  world: World
  /** Queues a fault on the login's upstream endpoint. */
  fail: (fault: Fault) => void
  /** Upstream calls so far. */
  calls: () => number
  /** A login with a fresh code. */
  login: () => Promise<Reply>
  /** What a 500's log line says, and the secret that must show in neither reply nor log. */
  fix: string
  secret: string
}

/** Each row: the fault, one login, its status, code, message and upstream calls; a 500 logs the fix and no secret. */
export async function checkFaults<Fault extends { delayMs?: number }> (t: Test, run: FaultRun<Fault>, table: Array<FaultRow<Fault>>): Promise<void> {
  for (const [what, fault, statusCode, code, message, upstream] of table) {
    run.fail(fault)
    const before = run.calls()
    const logged = run.world.logs.lines.length
    const started = Date.now()
    const reply = await run.login()
    t.equal(reply.statusCode, statusCode, `${what} → ${statusCode}`)
    if (code) t.match(reply.json, { statusCode, code, ...(message ? { message } : {}) }, `${what} → ${code}`)
    t.equal(run.calls() - before, upstream, `${what}: ${upstream} upstream call(s)`)
    if (fault.delayMs) t.ok(Date.now() - started < fault.delayMs, 'the timeout did not wait for the slow answer')
    if (statusCode === 500) {
      const lines = run.world.logs.lines.slice(logged)
      t.ok(lines.some((line) => /"level":50/.test(line) && line.includes(run.fix)), `${what}: the fix logged at error level`)
      t.notMatch(reply.body, run.secret, `${what}: the app secret is not in the reply`)
      t.notMatch(lines.join(''), run.secret, `${what}: nor in the log`)
    }
  }
}
