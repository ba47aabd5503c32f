import type { FastifyBaseLogger } from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import { UpstreamError, UpstreamTimeoutError } from '../../errors.js'
import type { WechatTokenRecords } from '../../store/wechat-tokens.js'
import type { ErrcodeApp, ErrcodeCall, ErrcodeHttp } from '../common/errcode-http.js'
import { STALE_TOKEN, errcodeOf } from '../common/errcodes.js'
import { stringField, type JsonReply } from '../common/json-http.js'

const STABLE_TOKEN = 'cgi-bin/stable_token'
const TOKEN_POLL_MS = 50
// WeChat renews a stable token in its last 5 minutes; renew no earlier, or it answers with the same one.
const TOKEN_RENEW_MS = 5 * 60_000
// WeChat allows about 20 forced refreshes a day per AppID, 30 s apart: one per 30 s at most, from every instance.
const FORCED_REFRESH_INTERVAL_MS = 30_000

/**
 * The access token of each AppID from cgi-bin/stable_token, shared by every
 * instance through Redis: one instance fetches at a time. When WeChat refuses
 * a token, stable_token is asked in normal mode first (it hands out the
 * current token, which another service on the AppID may have renewed); only
 * when it hands back the very token refused is a refresh forced, at most once
 * per 30 s per AppID, and the refused call is retried once (not when the
 * forced refresh hands back the refused token: WeChat did not refresh).
 */
export class WechatAccessTokens {
  // Concurrent callers in this process share one acquisition.
  private readonly acquiring = new Map<string, Promise<string>>()

  constructor (
    private readonly http: ErrcodeHttp,
    private readonly records: WechatTokenRecords,
    private readonly log: FastifyBaseLogger
  ) {}

  /** A usable token; `stale` is one WeChat just refused. */
  tokenFor (app: ErrcodeApp, stale?: string): Promise<string> {
    const key = `${app.appId}\n${stale ?? ''}`
    let pending = this.acquiring.get(key)
    if (!pending) {
      pending = this.acquire(app, stale).finally(() => this.acquiring.delete(key))
      this.acquiring.set(key, pending)
    }
    return pending
  }

  /** A call that carries the access token; a refused token is replaced once and the call retried once. */
  async request (app: ErrcodeApp, endpoint: string, build: (token: string) => ErrcodeCall): Promise<{ reply: JsonReply, secrets: string[] }> {
    let token = await this.tokenFor(app)
    let call = build(token)
    let reply = await this.http.request(app, endpoint, call)
    if (STALE_TOKEN.has(errcodeOf(reply))) {
      this.log.info({ appId: app.appId, endpoint, errcode: errcodeOf(reply) }, 'WeChat refused the access token: asking stable_token for the current one')
      token = await this.tokenFor(app, token)
      call = build(token)
      reply = await this.http.request(app, endpoint, call)
    }
    return { reply, secrets: call.secrets }
  }

  /** The cached token, or a new one fetched by one instance at a time; never `stale`. */
  private async acquire (app: ErrcodeApp, stale?: string): Promise<string> {
    // Long enough for two fetches (normal mode, then forced), each with its one retry.
    const lockMs = this.http.budgetMs(app) * 2 + 1000
    const waitUntil = Date.now() + lockMs
    for (;;) {
      const cached = await this.records.read(app.appId)
      const usable = cached && cached.token !== stale ? cached : null
      if (usable && Date.now() < usable.renewAt) return usable.token
      const lockId = await this.records.lock(app.appId, lockMs)
      if (lockId !== null) {
        try {
          // Another instance may have renewed it between our read and our lock.
          const latest = await this.records.read(app.appId)
          if (latest && latest.token !== stale && Date.now() < latest.renewAt) return latest.token
          return await this.renew(app, stale)
        } finally {
          await this.records.unlock(app.appId, lockId)
        }
      }
      // Another instance is renewing: a token still valid serves meanwhile.
      if (usable && Date.now() < usable.expiresAt) return usable.token
      if (Date.now() >= waitUntil) throw new UpstreamTimeoutError(`${STABLE_TOKEN} (another instance is still fetching the access token)`)
      await sleep(TOKEN_POLL_MS)
    }
  }

  /** Normal mode; a forced refresh only when normal mode hands back the token WeChat refused. */
  private async renew (app: ErrcodeApp, stale?: string): Promise<string> {
    const current = await this.fetch(app, false)
    if (current.token !== stale) return this.keep(app, current)
    if (!await this.records.claimForcedRefresh(app.appId, FORCED_REFRESH_INTERVAL_MS)) {
      this.log.warn({ appId: app.appId }, 'WeChat refused the access token that stable_token still hands out, and a refresh was forced less than 30 s ago: not forcing another')
      throw new UpstreamError(`WeChat refused the access token of app ${app.appId} and stable_token still hands out the same one; a refresh was forced less than 30 s ago and WeChat allows about 20 a day, 30 s apart, so none is forced now: retry later`)
    }
    this.log.warn({ appId: app.appId }, 'WeChat refused the access token that stable_token still hands out: forcing a refresh (this invalidates the token of every other service on this AppID)')
    const forced = await this.fetch(app, true)
    // Within 30 s of another forced refresh (another service's on this AppID)
    // WeChat does not refresh: it hands back the current token, the one it
    // refused. A retry with it would be refused again.
    if (forced.token === stale) {
      this.log.warn({ appId: app.appId }, 'a forced refresh handed back the access token WeChat refused: another service on this AppID forced one less than 30 s ago, and WeChat refreshes at most once in 30 s')
      throw new UpstreamError(`WeChat refused the access token of app ${app.appId} and a forced refresh handed back the same one (another service forced a refresh less than 30 s ago): retry later`)
    }
    return this.keep(app, forced)
  }

  /** One stable_token call: the token and how long it lives. */
  private async fetch (app: ErrcodeApp, forceRefresh: boolean): Promise<{ token: string, lifetimeMs: number }> {
    const secrets = [app.appSecret]
    const reply = await this.http.request(app, STABLE_TOKEN, {
      method: 'POST',
      body: { grant_type: 'client_credential', appid: app.appId, secret: app.appSecret, ...(forceRefresh ? { force_refresh: true } : {}) },
      secrets
    })
    if (errcodeOf(reply) !== 0) throw this.http.fail(app, STABLE_TOKEN, reply, secrets)
    const token = stringField(reply, 'access_token', STABLE_TOKEN)
    const lifetimeMs = Number(reply.expires_in) * 1000
    if (!(lifetimeMs > 0)) throw new UpstreamError(`${STABLE_TOKEN} answered without a valid expires_in`)
    return { token, lifetimeMs }
  }

  /** The token becomes the shared one. */
  private async keep (app: ErrcodeApp, { token, lifetimeMs }: { token: string, lifetimeMs: number }): Promise<string> {
    const now = Date.now()
    await this.records.write(app.appId, { token, expiresAt: now + lifetimeMs, renewAt: now + lifetimeMs - Math.min(TOKEN_RENEW_MS, lifetimeMs / 2) })
    return token
  }
}
