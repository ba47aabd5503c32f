// The logins in flight: callers share one (on Alipay one per scope, so an
// auth_user caller never gets an auth_base login's reply), and a call can
// wait until none runs rather than send an skey about to be replaced.

import type { LoginReply } from './types.js'

export interface LoginQueue {
  /** The login in flight under `key`, or a new one that `start` makes. */
  join: (key: string, start: () => Promise<LoginReply>) => Promise<LoginReply>
  /** A login in flight, if any: whatever its scope, its skey is valid. */
  running: () => Promise<LoginReply> | undefined
  /** Resolves once no login is in flight, including logins started while it waits. */
  settled: () => Promise<void>
}

export function loginQueue (): LoginQueue {
  const inFlight = new Map<string, Promise<LoginReply>>()
  return {
    join: (key, start) => {
      let pending = inFlight.get(key)
      if (!pending) {
        const done = (): void => { inFlight.delete(key) }
        // then(done, done) rather than finally: Promise.prototype.finally is ES2018.
        pending = start()
        pending.then(done, done)
        inFlight.set(key, pending)
      }
      return pending
    },
    running: () => inFlight.values().next().value,
    settled: async () => {
      while (inFlight.size > 0) await Promise.all(Array.from(inFlight.values(), (login) => login.catch(() => {})))
    }
  }
}
