import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { parseDuration } from '../lib/duration.js'
import { rejectUnknownKeys } from '../lib/options.js'
import type { AllowedRedirect } from '../lib/redirects.js'
import { WebviewTickets } from '../store/webview-tickets.js'
import { kGateway, kSecretBox } from './sessions.js'

export interface WebviewOptions {
  /** How long a web-view ticket can be redeemed: up to '5m'. Default '60s'. */
  ticketTtl?: number | string
}

interface WebviewPluginOptions {
  /** The umbrella's `webview` option, as the app gave it. */
  webview: WebviewOptions | true
  /** The umbrella's `web.redirects`, checked: the absolute URLs a redirect may go to, besides this site's own paths. */
  redirects: AllowedRedirect[]
}

/** Internal, hence a symbol: the web-view tickets and their lifetime, for routes/webview.ts. */
export const kWebview = Symbol('mpa-webview')

declare module 'fastify' {
  interface FastifyInstance {
    [kWebview]: { tickets: WebviewTickets, ticketTtlMs: number, redirects: AllowedRedirect[] }
  }
}

const MAX_TTL_MS = 300_000

/** One-time tickets that carry a mini-program session into its web-view pages. */
const webviewPlugin: FastifyPluginAsync<WebviewPluginOptions> = async (fastify, { webview, redirects }) => {
  const options = webview === true ? {} : webview
  if (typeof options !== 'object' || options === null) throw new TypeError(`webview must be an object or true (got ${JSON.stringify(webview)})`)
  rejectUnknownKeys(options, ['ticketTtl'], 'webview')
  const ticketTtlMs = parseDuration(options.ticketTtl ?? '60s', 'webview.ticketTtl')
  if (ticketTtlMs > MAX_TTL_MS) throw new TypeError(`webview.ticketTtl must be at most 5 minutes: the ticket travels in a URL (got ${JSON.stringify(options.ticketTtl)})`)
  fastify.decorate(kWebview, {
    tickets: new WebviewTickets(fastify[kGateway], fastify[kSecretBox]),
    ticketTtlMs,
    redirects
  })
}

export default fp(webviewPlugin, {
  name: 'mpa-webview',
  fastify: '5.x',
  dependencies: ['mpa-sessions', 'mpa-authenticate', 'mpa-web-sessions']
})
