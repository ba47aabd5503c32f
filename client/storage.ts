// The session on the device, in the platform's storage: the skey; beside it
// the Alipay scope of the login that made it, so a re-login asks the same
// scope; and why the server ended the last session, so that no login follows
// by itself, even after the mini-program restarts.

import type { KeyValueStorage } from './platform.js'
import type { AlipayScope, SessionEnd } from './types.js'

export interface SessionStore {
  skey: () => string | null
  scope: () => AlipayScope | null
  ended: () => SessionEnd | null
  /** A login made this skey (with this scope): it replaces any session end. */
  loggedIn: (skey: string, scope: AlipayScope | null) => void
  /** The session is gone: skey and scope forgotten, and the end kept when the server ended it. */
  forget: (end?: SessionEnd) => void
}

export function sessionStore (storage: KeyValueStorage, key: string): SessionStore {
  const keys = { skey: key, scope: `${key}:scope`, end: `${key}:end` }

  function read (name: string): string | null {
    const stored = storage.get(name)
    return typeof stored === 'string' && stored !== '' ? stored : null
  }

  function write (name: string, value: string | null): void {
    if (value === null) storage.remove(name)
    else storage.set(name, value)
  }

  return {
    skey: () => read(keys.skey),
    scope: () => {
      const scope = read(keys.scope)
      return scope === 'auth_base' || scope === 'auth_user' ? scope : null
    },
    ended: () => parseEnd(read(keys.end)),
    loggedIn: (skey, scope) => {
      write(keys.skey, skey)
      write(keys.scope, scope)
      write(keys.end, null)
    },
    forget: (end) => {
      write(keys.skey, null)
      write(keys.scope, null)
      if (end) write(keys.end, JSON.stringify(end))
    }
  }
}

function parseEnd (stored: string | null): SessionEnd | null {
  if (stored === null) return null
  try {
    const { reason, code, message } = JSON.parse(stored) as Partial<SessionEnd>
    if (typeof reason === 'string' && typeof code === 'string' && typeof message === 'string') return { reason, code, message }
  } catch {}
  // Not ours (another writer's): no end.
  return null
}
