import { randomBytes } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import { sha256Base64url } from '../lib/hash.js'
import type { RedisGateway, Script } from './gateway.js'

// Scan-login tickets: a PC browser's request to log in, approved from the
// mini-program. One hash per ticket under the sha256 of its id (a dump gives
// no usable id), whose every transition is one Lua script: a transition
// happens once, whichever instance is asked, however many at once. Each
// transition is published on one channel (`<prefix>scan-events`) that every
// instance subscribes to once, so a page waiting on another instance hears of
// it at once; the state stays in the hash, so a message lost while a
// connection was down is made up for by the next read (a waiter reads after it
// has subscribed, and again at every keep-alive).

/** waiting → scanned → confirmed → claimed (the browser got its session), or refused; open ones expire. */
export type TicketState = 'waiting' | 'scanned' | 'confirmed' | 'refused' | 'claimed' | 'expired'
export type TicketAction = 'scan' | 'confirm' | 'refuse' | 'claim'

/** Who asked for the ticket, as the phone shows it before the user confirms. */
export interface TicketRequester {
  /** The browser's platform, from its User-Agent (lib/device.ts). */
  device?: string
  ip?: string
}

export interface TicketView {
  state: TicketState
  expiresAt: number
  requester: TicketRequester
  /** Hash of the browser binding the ticket was issued to. */
  browser: string
}

/** What a confirmation hands the browser: who confirmed (their identity and user, no secret), for its own new session. */
export type Grant = Record<string, unknown>

export type TransitionResult =
  | { ok: true, state: TicketState, grant?: Grant }
  | { ok: false, reason: 'unknown' | 'expired' | 'browser' | 'scanner', state?: TicketState }
  | { ok: false, reason: 'state', state: TicketState }

// KEYS[1] the ticket; ARGV: action, now, actor (the scanning session's id, or the
// browser's hash for a claim), grant (JSON, confirm only), channel, message id.
// Open tickets past their expiry refuse every transition; a claim needs the
// browser the ticket was issued to, confirm and refuse the session that scanned it.
const TRANSITION = `
local t = redis.call('HMGET', KEYS[1], 's', 'e', 'b', 'k')
local state, expires = t[1], tonumber(t[2])
if not state then return {'unknown'} end
local now = tonumber(ARGV[2])
if (state == 'waiting' or state == 'scanned') and now >= expires then return {'expired'} end
local action = ARGV[1]
local from, to = 'scanned', 'refused'
if action == 'scan' then from, to = 'waiting', 'scanned'
elseif action == 'confirm' then to = 'confirmed'
elseif action == 'claim' then from, to = 'confirmed', 'claimed' end
if action == 'claim' and t[3] ~= ARGV[3] then return {'browser'} end
if state ~= from then return {'state', state} end
if (action == 'confirm' or action == 'refuse') and t[4] ~= ARGV[3] then return {'scanner', state} end
redis.call('HSET', KEYS[1], 's', to)
local grant = false
if action == 'scan' then redis.call('HSET', KEYS[1], 'k', ARGV[3])
elseif action == 'confirm' then redis.call('HSET', KEYS[1], 'g', ARGV[4])
elseif action == 'claim' then grant = redis.call('HGET', KEYS[1], 'g') redis.call('HDEL', KEYS[1], 'g') end
redis.call('PUBLISH', ARGV[5], ARGV[6] .. ' ' .. to)
return {'ok', to, grant}
`

/** Ticket ids: 16 random bytes, base64url (22 characters: within a wxacode scene's 32, of its allowed characters). */
export const TICKET_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/
/** How long a settled or expired ticket's record stays to say so (410, or its outcome), after its expiry. */
const AFTERLIFE_MS = 60_000

type Waiter = () => void

export class ScanTickets {
  readonly #transition: Script
  readonly #channel: string
  readonly #waiters = new Map<string, Set<Waiter>>()
  #subscriber: Redis | Cluster | null = null
  #subscribed: Promise<void> | null = null
  #closed = false

  constructor (private readonly gateway: RedisGateway) {
    this.#transition = gateway.script('ScanTransition', 1, TRANSITION)
    this.#channel = gateway.key('scan-events')
  }

  /** A new ticket for the browser whose binding hashes to `browser`, open for `ttlMs`. */
  async issue (browser: string, requester: TicketRequester, ttlMs: number): Promise<{ id: string, expiresAt: number }> {
    const id = randomBytes(16).toString('base64url')
    const expiresAt = Date.now() + ttlMs
    const key = this.#key(id)
    await this.gateway.run('scan-ticket.issue', (redis) => redis.multi()
      .hset(key, { s: 'waiting', e: String(expiresAt), b: browser, r: JSON.stringify(requester) })
      .pexpireat(key, expiresAt + AFTERLIFE_MS)
      .exec())
    return { id, expiresAt }
  }

  /** The ticket as it is now (an open one past its expiry reads 'expired'), or null when unknown. */
  async read (id: string): Promise<TicketView | null> {
    const [state, expires, browser, requester] = await this.gateway.run<Array<string | null>>('scan-ticket.read', (redis) => redis.hmget(this.#key(id), 's', 'e', 'b', 'r'))
    if (!state || !expires || !browser) return null
    const expiresAt = Number(expires)
    const open = state === 'waiting' || state === 'scanned'
    return {
      state: open && Date.now() >= expiresAt ? 'expired' : state as TicketState,
      expiresAt,
      browser,
      requester: requester ? JSON.parse(requester) as TicketRequester : {}
    }
  }

  /** One transition, done once across every instance; `grant` goes with a confirmation and comes back, once, to the claim. */
  async transition (id: string, action: TicketAction, actor: string, grant?: Grant): Promise<TransitionResult> {
    const reply = await this.gateway.run(`scan-ticket.${action}`, () => this.#transition(
      this.#key(id), action, String(Date.now()), actor, grant === undefined ? '' : JSON.stringify(grant), this.#channel, this.#messageId(id)
    )) as [string, string?, (string | null)?]
    const [outcome, state, granted] = reply
    if (outcome === 'ok') return { ok: true, state: state as TicketState, ...(typeof granted === 'string' ? { grant: JSON.parse(granted) as Grant } : {}) }
    if (outcome === 'state') return { ok: false, reason: 'state', state: state as TicketState }
    return { ok: false, reason: outcome as 'unknown' | 'expired' | 'browser' | 'scanner', ...(state === undefined ? {} : { state: state as TicketState }) }
  }

  /**
   * A watch on the ticket: `next` resolves at its next transition on any
   * instance, at `deadline` (epoch ms), or at `stop()`, whichever comes
   * first; `ready` once this instance is subscribed: a read of the ticket
   * after it misses nothing. Once the store is closed, it resolves at once.
   */
  watch (id: string, deadline: number): { ready: Promise<void>, next: Promise<void>, stop: () => void } {
    if (this.#closed) return { ready: Promise.resolve(), next: Promise.resolve(), stop: () => {} }
    const messageId = this.#messageId(id)
    let stop!: Waiter
    const next = new Promise<void>((resolve) => {
      const timer = setTimeout(() => stop(), Math.max(0, deadline - Date.now()))
      stop = () => {
        clearTimeout(timer)
        const waiters = this.#waiters.get(messageId)
        waiters?.delete(stop)
        if (waiters?.size === 0) this.#waiters.delete(messageId)
        resolve()
      }
    })
    const waiters = this.#waiters.get(messageId) ?? new Set<Waiter>()
    this.#waiters.set(messageId, waiters.add(stop))
    return { ready: this.#subscribe(), next, stop }
  }

  /** True once the app is closing: watches resolve at once, and waiting pages are answered. */
  get closed (): boolean {
    return this.#closed
  }

  /** Ends the subscription (the app is closing); every watch resolves. */
  close (): void {
    this.#closed = true
    for (const waiters of [...this.#waiters.values()]) for (const stop of [...waiters]) stop()
    this.#subscriber?.disconnect()
    this.#subscriber = null
    this.#subscribed = null
  }

  /** One subscriber connection per instance, made at the first wait. */
  #subscribe (): Promise<void> {
    if (this.#subscribed) return this.#subscribed
    const subscriber = (this.gateway.redis as Redis).duplicate()
    // Errors surface as failed reads; the connection reconnects and resubscribes by itself.
    subscriber.on('error', () => {})
    subscriber.on('message', (_channel: string, message: string) => {
      const waiters = this.#waiters.get(message.slice(0, message.indexOf(' ')))
      if (waiters) for (const stop of [...waiters]) stop()
    })
    this.#subscriber = subscriber
    const subscribed = subscriber.subscribe(this.#channel).then(() => {}, () => {
      // Not subscribed (Redis down): the next wait tries again; this one waits out its deadline.
      if (this.#subscriber === subscriber) {
        subscriber.disconnect()
        this.#subscriber = null
        this.#subscribed = null
      }
    })
    this.#subscribed = subscribed
    return subscribed
  }

  #key (id: string): string {
    return this.gateway.key('scan', sha256Base64url(id))
  }

  /** What a message names the ticket by: a hash, as its key (a MONITOR shows no usable ticket id). */
  #messageId (id: string): string {
    return sha256Base64url(id).slice(0, 22)
  }
}
