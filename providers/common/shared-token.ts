import { setTimeout as sleep } from 'node:timers/promises'
import { UpstreamTimeoutError } from '../../errors.js'
import type { PlatformTokenRecords, SharedToken } from '../../store/platform-tokens.js'

/** A token the platform granted, and how long it lives. */
export interface TokenGrant {
  token: string
  lifetimeMs: number
}

/** Where a platform's app tokens come from. */
export interface TokenSource<App> {
  /** Names the token in errors ('gettoken'). */
  label: string
  /** The record an app's token is kept under. */
  keyOf: (app: App) => string
  /** The longest one grant can take. */
  budgetMs: (app: App) => number
  /** Asks the platform for a new token. */
  grant: (app: App) => Promise<TokenGrant>
}

const POLL_MS = 50
// Renew this long before the token lapses (Douyin keeps the previous client_token 5 minutes after a new one).
const RENEW_AHEAD_MS = 5 * 60_000

/**
 * App-level tokens shared by every instance through Redis: the cached one
 * while it is fresh, else one instance fetches the next while the others
 * wait (serving the old one while it is still valid). `stale` is a token the
 * platform just refused: never handed out again.
 */
export class SharedTokens<App> {
  // Concurrent callers in this process share one acquisition.
  private readonly pending = new Map<string, Promise<string>>()

  constructor (private readonly records: PlatformTokenRecords, private readonly source: TokenSource<App>) {}

  tokenFor (app: App, stale?: string): Promise<string> {
    const key = `${this.source.keyOf(app)}\n${stale ?? ''}`
    let pending = this.pending.get(key)
    if (!pending) {
      pending = this.acquire(app, stale).finally(() => this.pending.delete(key))
      this.pending.set(key, pending)
    }
    return pending
  }

  private async acquire (app: App, stale: string | undefined): Promise<string> {
    const key = this.source.keyOf(app)
    // Long enough for one grant, with room to write it.
    const claimMs = this.source.budgetMs(app) + 1000
    const giveUpAt = Date.now() + claimMs
    for (;;) {
      const known = usable(await this.records.read(key), stale)
      if (known && Date.now() < known.renewAt) return known.token
      const renewal = await this.records.claimRenewal(key, claimMs)
      if (renewal !== null) return this.renew(app, key, renewal, stale)
      // Another instance is renewing: a token still valid serves meanwhile.
      if (known && Date.now() < known.expiresAt) return known.token
      if (Date.now() >= giveUpAt) throw new UpstreamTimeoutError(`${this.source.label} (another instance is still fetching the token)`)
      await sleep(POLL_MS)
    }
  }

  /** This instance's renewal: unless another one just stored a fresh token, a grant becomes the shared token. */
  private async renew (app: App, key: string, renewal: string, stale: string | undefined): Promise<string> {
    try {
      const latest = usable(await this.records.read(key), stale)
      if (latest && Date.now() < latest.renewAt) return latest.token
      const { token, lifetimeMs } = await this.source.grant(app)
      const now = Date.now()
      await this.records.write(key, { token, expiresAt: now + lifetimeMs, renewAt: now + lifetimeMs - Math.min(RENEW_AHEAD_MS, lifetimeMs / 2) })
      return token
    } finally {
      await this.records.endRenewal(key, renewal)
    }
  }
}

function usable (shared: SharedToken | null, stale: string | undefined): SharedToken | null {
  return shared && shared.token !== stale ? shared : null
}
