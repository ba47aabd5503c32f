import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import {
  MisconfiguredError, RateLimitedError, StoreUnavailableError, TicketBrowserError, TicketExpiredError, TicketStateError, TicketUnknownError,
  UpstreamError, UpstreamRateLimitedError, UpstreamTimeoutError, UserBannedError
} from '../errors.js'
import { deviceLabel } from '../lib/device.js'
import { sha256Base64url } from '../lib/hash.js'
import { kAuthentication } from '../plugins/authenticate.js'
import { limitLogins, type LoginRateLimitOptions } from '../plugins/login-rate-limit.js'
import { kScanLogin } from '../plugins/scan-login.js'
import { kWebSessions } from '../plugins/web-sessions.js'
import { TICKET_ID_PATTERN, type ScanTickets, type TicketAction, type TicketState, type TicketView, type TransitionResult } from '../store/scan-tickets.js'
import type { AuthUser, Identity } from '../types.js'
import { routeScope } from './scope.js'
import { AUTHENTICATED_ERRORS, User, VALIDATION_ERRORS, errorReplies } from './schemas.js'

/** The provider name of the sessions scan login gives browsers. */
const SCAN_PROVIDER = 'wechat-scan'

// Scan login: a PC browser asks for a ticket and shows its mini-program code;
// the user, logged in on the phone, scans it, sees what asks, and confirms or
// refuses; the browser learns it (long poll or Server-Sent Events) and, once
// confirmed, claims a session of its own for the same user, as a cookie.

const STATES = ['waiting', 'scanned', 'confirmed', 'refused', 'claimed', 'expired'] as const
const State = Type.Unsafe<TicketState>({ type: 'string', enum: [...STATES], description: 'waiting → scanned → confirmed → claimed, or refused; an open ticket past its expiry is expired.' })
const Params = Type.Object({ id: Type.String({ pattern: TICKET_ID_PATTERN.source, description: 'The ticket id (the code\'s scene).' }) })
const Requester = Type.Object({
  device: Type.Optional(Type.String({ description: 'The platform part of the browser\'s User-Agent.' })),
  ip: Type.Optional(Type.String())
}, { description: 'Who asked for the ticket: what the phone shows before the user confirms.' })
const TicketReply = Type.Object({ state: State, expiresAt: Type.Number({ description: 'Epoch ms.' }) }, { description: 'The ticket\'s state (the next one, for a long poll that saw it change).' })

/** Longest long poll, in seconds: under the usual 60 s proxy timeouts. */
const MAX_WAIT_S = 30
/** An event stream's keep-alive comment, and a re-read of the ticket (a message lost during a reconnection is made up for). */
const KEEP_ALIVE_MS = 15_000
const OPEN = new Set<TicketState>(['waiting', 'scanned'])
/** After these, an event stream has nothing more to say. */
const FINAL = new Set<TicketState>(['confirmed', 'refused', 'claimed', 'expired'])
const PAST: Record<TicketAction, string> = { scan: 'scanned', confirm: 'confirmed', refuse: 'refused', claim: 'claimed' }

const BROWSER_ERRORS = [TicketUnknownError, TicketBrowserError, StoreUnavailableError, ...VALIDATION_ERRORS]
const PHONE_ERRORS = [...AUTHENTICATED_ERRORS, TicketUnknownError, TicketExpiredError, TicketStateError, ...VALIDATION_ERRORS]

/** The error of a refused transition. */
function refusal (result: Exclude<TransitionResult, { ok: true }>, action: TicketAction): Error {
  switch (result.reason) {
    case 'unknown': return new TicketUnknownError()
    case 'expired': return new TicketExpiredError()
    case 'browser': return new TicketBrowserError()
    case 'scanner': return new TicketStateError('scanned by another session', PAST[action])
    case 'state': return new TicketStateError(result.state, PAST[action])
  }
}

/**
 * The ticket once it has left `known`, or at `until`, or when the store
 * closes or `signal` aborts: each wait is subscribed before its read, so no
 * transition falls between the read and the wait.
 */
async function nextView (tickets: ScanTickets, id: string, read: () => Promise<TicketView>, known: TicketState, until: number, signal: AbortSignal): Promise<TicketView> {
  let view = await read()
  while (view.state === known && Date.now() < until && !signal.aborted && !tickets.closed) {
    const watch = tickets.watch(id, until)
    const stop = () => watch.stop()
    signal.addEventListener('abort', stop)
    try {
      await watch.ready
      view = await read()
      if (view.state === known) {
        await watch.next
        view = await read()
      }
    } finally {
      signal.removeEventListener('abort', stop)
      watch.stop()
    }
  }
  return view
}

/** An AbortSignal that aborts when the reply is closed: sent, or its connection gone (the page went away). */
function closedSignal (reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  reply.raw.once('close', () => controller.abort())
  return controller.signal
}

interface ScanRoutesOptions {
  /** The login rate limit, which also counts ticket requests (each costs a WeChat call). */
  rateLimit?: LoginRateLimitOptions | false
}

/** POST /scan/tickets and the ticket's routes: the browser's (poll, events, session) and the phone's (scanned, confirm, refuse). */
const scanRoutes: FastifyPluginAsyncTypebox<ScanRoutesOptions> = async (fastify, options) => {
  routeScope(fastify, 'scan login routes', ['sessions', 'wechat', 'miniprogramLogin', kAuthentication, kScanLogin, kWebSessions])
  const { sessions, wechat, miniprogramLogin, [kAuthentication]: { authenticate, sessionOf }, [kScanLogin]: scan, [kWebSessions]: web } = fastify
  const { tickets, appId } = scan

  /** The hash of the binding the request's browser carries, or the 403. */
  function browserHashOf (request: FastifyRequest): string {
    const bound = web.boundBrowserOf(request)
    if (bound === null) throw new TicketBrowserError()
    return sha256Base64url(bound)
  }

  /** The ticket, for the browser it was issued to only. */
  async function ownTicket (request: FastifyRequest, id: string): Promise<TicketView> {
    const browser = browserHashOf(request)
    const view = await tickets.read(id)
    if (view === null) throw new TicketUnknownError()
    if (view.browser !== browser) throw new TicketBrowserError()
    return view
  }

  /** How long a wait on the ticket may last: to `waitMs` from now, and for an open ticket no further than its expiry. */
  const untilOf = (view: TicketView, waitMs: number) => Math.min(Date.now() + waitMs, OPEN.has(view.state) ? view.expiresAt : Infinity)
  const stateOf = ({ state, expiresAt }: TicketView) => ({ state, expiresAt })

  fastify.post('/scan/tickets', {
    config: { ...await limitLogins(fastify, options.rateLimit) },
    schema: {
      summary: 'A scan-login ticket for this browser, with its mini-program code',
      tags: ['scan'],
      response: {
        200: Type.Object({
          id: Type.String({ description: 'The ticket id: the code\'s scene.' }),
          expiresAt: Type.Number({ description: 'Epoch ms: the code is refused after it.' }),
          code: Type.String({ description: 'The mini-program code (wxacode.getUnlimited) as a data: URL, to show as an image.' }),
          poll: Type.String({ description: 'GET it with ?wait=seconds&state=<the state the page knows> for the next state.' }),
          events: Type.String({ description: 'The same as Server-Sent Events.' }),
          session: Type.String({ description: 'POST it once the ticket is confirmed: the browser\'s session cookie.' })
        }, { description: 'A ticket bound to this browser (its binding cookie is set), and its code to show.' }),
        ...errorReplies(RateLimitedError, StoreUnavailableError, UpstreamError, UpstreamTimeoutError, UpstreamRateLimitedError, MisconfiguredError)
      }
    }
  }, async (request, reply) => {
    const browser = sha256Base64url(web.browserOf(request, reply))
    const userAgent = request.headers['user-agent']
    const requester = { ...(userAgent ? { device: deviceLabel(userAgent) } : {}), ip: request.ip }
    const { id, expiresAt } = await tickets.issue(browser, requester, scan.ticketTtlMs)
    const { image, contentType } = await wechat.unlimitedCode({ scene: id, ...scan.code }, appId)
    const base = `${request.routeOptions.url}/${id}`
    return { id, expiresAt, code: `data:${contentType};base64,${image.toString('base64')}`, poll: base, events: `${base}/events`, session: `${base}/session` }
  })

  fastify.get('/scan/tickets/:id', {
    schema: {
      summary: 'The ticket\'s state, at once or once it leaves the state the page knows (long poll)',
      tags: ['scan'],
      params: Params,
      querystring: Type.Object({
        wait: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_WAIT_S, description: `Seconds to wait for a change, up to ${MAX_WAIT_S}. Default 0.` })),
        state: Type.Optional(State)
      }),
      response: { 200: TicketReply, ...errorReplies(...BROWSER_ERRORS) }
    }
  }, async (request, reply) => {
    const { id } = request.params
    const read = () => ownTicket(request, id)
    const first = await read()
    const known = request.query.state ?? first.state
    reply.header('cache-control', 'no-store')
    const view = await nextView(tickets, id, read, known, untilOf(first, (request.query.wait ?? 0) * 1000), closedSignal(reply))
    // Answered because the app is closing: the connection goes with it (kept alive, it would hold the close for the keep-alive timeout).
    if (tickets.closed) reply.header('connection', 'close')
    return stateOf(view)
  })

  fastify.get('/scan/tickets/:id/events', {
    schema: {
      summary: 'The ticket\'s states as Server-Sent Events, until it is settled',
      description: 'Each event\'s data is `{ state, expiresAt }`; the stream ends after confirmed, refused, claimed or expired.',
      tags: ['scan'],
      params: Params,
      response: { 200: Type.String({ description: 'A text/event-stream: one event per state, ending once the ticket is settled.' }), ...errorReplies(...BROWSER_ERRORS) }
    }
  }, async (request, reply) => {
    const { id } = request.params
    const read = () => ownTicket(request, id)
    // Refusals are answered before the stream starts, in the error contract.
    let view = await read()
    const signal = closedSignal(reply)
    reply.hijack()
    const stream = reply.raw
    const { socket } = request.raw
    stream.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' })
    const send = (state: TicketView) => stream.write(`data: ${JSON.stringify(stateOf(state))}\n\n`)
    send(view)
    try {
      while (!FINAL.has(view.state) && !signal.aborted && !tickets.closed) {
        const known = view.state
        view = await nextView(tickets, id, read, known, untilOf(view, KEEP_ALIVE_MS), signal)
        if (view.state !== known) send(view)
        else stream.write(': keep-alive\n\n')
      }
    } catch (err) {
      // Redis failed mid-stream: the page is told, and reconnects or polls.
      const { code = 'MPA_INTERNAL_ERROR' } = err as { code?: string }
      stream.write(`event: error\ndata: ${JSON.stringify({ code })}\n\n`)
      if (!(err as { statusCode?: number }).statusCode) request.log.error({ err }, 'scan login event stream failed')
    }
    // The app is closing: the connection goes too (as a long poll's does); kept alive, it would hold the close.
    stream.end(() => { if (tickets.closed) socket.end() })
  })

  fastify.post('/scan/tickets/:id/session', {
    schema: {
      summary: 'The browser\'s own session for a confirmed ticket, as its cookie (once)',
      tags: ['scan'],
      params: Params,
      response: {
        200: Type.Object({ user: User, expiresAt: Type.Number({ description: 'Epoch ms: when the session lapses if unused.' }) }, { description: 'Logged in: the session cookie is set.' }),
        ...errorReplies(...BROWSER_ERRORS, TicketExpiredError, TicketStateError, UserBannedError)
      }
    }
  }, async (request, reply) => {
    const startedAt = performance.now()
    const result = await tickets.transition(request.params.id, 'claim', browserHashOf(request))
    if (!result.ok) throw refusal(result, 'claim')
    const { identity, user } = result.grant as { identity: Identity, user: AuthUser }
    const userAgent = request.headers['user-agent']
    // A browser's session, not the phone's: its own provider name, so it has its own session rules
    // (session.platforms['wechat-scan']), the phone's one-per-platform rule does not replace it, and
    // the mini-program's open-data routes (which need the phone's session_key) refuse it.
    const browser: Identity = { ...identity, provider: SCAN_PROVIDER, surface: 'web' }
    const created = await sessions.create(browser, { user, ...(userAgent ? { device: deviceLabel(userAgent) } : {}) })
    web.start(reply, created)
    // A login as any other: the login event and onLogin.
    miniprogramLogin.loggedIn(request, browser, created.session, startedAt)
    return { user: created.session.user, expiresAt: created.expiresAt }
  })

  // The phone's side: its session scans, then confirms or refuses.
  fastify.post('/scan/tickets/:id/scanned', {
    preHandler: authenticate,
    schema: {
      summary: 'The mini-program read this ticket\'s code: what asks to log in',
      tags: ['scan'],
      params: Params,
      response: {
        200: Type.Object({ state: State, expiresAt: Type.Number(), requester: Requester }, { description: 'Scanned by this session: show who asks, then confirm or refuse.' }),
        ...errorReplies(...PHONE_ERRORS)
      }
    }
  }, async (request) => {
    const { id } = request.params
    const result = await tickets.transition(id, 'scan', sessionOf(request).id)
    if (!result.ok) throw refusal(result, 'scan')
    const view = await tickets.read(id)
    if (view === null) throw new TicketUnknownError()
    return { ...stateOf(view), requester: view.requester }
  })

  for (const action of ['confirm', 'refuse'] as const) {
    fastify.post(`/scan/tickets/:id/${action}`, {
      preHandler: authenticate,
      schema: {
        summary: action === 'confirm' ? 'Log the browser in as this user' : 'Refuse the browser\'s login',
        tags: ['scan'],
        params: Params,
        response: { 200: Type.Object({ state: State }, { description: action === 'confirm' ? 'Confirmed: the browser may claim its session.' : 'Refused: the browser is told.' }), ...errorReplies(...PHONE_ERRORS) }
      }
    }, async (request) => {
      const session = sessionOf(request)
      // What the browser's session is made of: who confirmed, never a secret of theirs.
      const { provider, appId, openId, unionId, alipayUserId, user } = session
      const grant = action === 'confirm' ? { identity: { provider, appId, openId, unionId, alipayUserId }, user } : undefined
      const result = await tickets.transition(request.params.id, action, session.id, grant)
      if (!result.ok) throw refusal(result, action)
      return { state: result.state }
    })
  }
}

export default scanRoutes
