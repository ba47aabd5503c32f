import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { parseDuration } from '../lib/duration.js'
import { rejectUnknownKeys } from '../lib/options.js'
import type { UnlimitedCodeRequest } from '../providers/wechat/provider.js'
import { ScanTickets } from '../store/scan-tickets.js'
import { kGateway } from './sessions.js'

export interface ScanLoginOptions {
  /** How long a ticket (its code on the PC screen) can be scanned and confirmed: up to '10m'; 2 to 5 minutes suit a person. Default '3m'. */
  ticketTtl?: number | string
  /** The WeChat app whose code the PC shows; default the first of the `wechat` option. */
  appId?: string
  /** The mini-program page the code opens (no leading '/'); it reads the ticket from `scene`. Default WeChat's: the home page. */
  page?: string
  /** Whether WeChat checks that the page is in the released version. Default true (WeChat's). */
  checkPath?: boolean
  /** Which version of the mini-program the code opens. Default 'release'. */
  envVersion?: 'release' | 'trial' | 'develop'
  /** The code's width in pixels, 280 to 1280. Default WeChat's 430. */
  width?: number
}

/** What the scan routes use: the tickets, their lifetime, and how the code is drawn. */
interface ScanLogin {
  tickets: ScanTickets
  ticketTtlMs: number
  /** The WeChat app that draws the codes. */
  appId: string
  code: Omit<UnlimitedCodeRequest, 'scene'>
}

/** Internal, hence a symbol. */
export const kScanLogin = Symbol('mpa-scan-login')

declare module 'fastify' {
  interface FastifyInstance {
    [kScanLogin]: ScanLogin
  }
}

const OPTION_KEYS = ['ticketTtl', 'appId', 'page', 'checkPath', 'envVersion', 'width'] as const
const ENV_VERSIONS = ['release', 'trial', 'develop']
const MAX_TTL_MS = 600_000

/** Checks the `scanLogin` option; every message names it. */
function scanLoginOf (options: ScanLoginOptions): Omit<ScanLogin, 'tickets' | 'appId'> & { appId?: string } {
  if (typeof options !== 'object' || options === null) throw new TypeError(`scanLogin must be an object or true (got ${JSON.stringify(options)})`)
  rejectUnknownKeys(options, OPTION_KEYS, 'scanLogin')
  const { ticketTtl = '3m', appId, page, checkPath, envVersion, width } = options
  const ticketTtlMs = parseDuration(ticketTtl, 'scanLogin.ticketTtl')
  if (ticketTtlMs > MAX_TTL_MS) throw new TypeError(`scanLogin.ticketTtl must be at most 10 minutes: a code on a screen is there for anyone to scan (got ${JSON.stringify(ticketTtl)})`)
  if (appId !== undefined && (typeof appId !== 'string' || appId === '')) throw new TypeError(`scanLogin.appId must be the AppID of one of the wechat apps (got ${JSON.stringify(appId)})`)
  if (page !== undefined && (typeof page !== 'string' || page === '' || page.startsWith('/'))) {
    throw new TypeError(`scanLogin.page must be a page path without a leading '/', such as 'pages/scan/scan' (got ${JSON.stringify(page)})`)
  }
  if (checkPath !== undefined && typeof checkPath !== 'boolean') throw new TypeError(`scanLogin.checkPath must be a boolean (got ${JSON.stringify(checkPath)})`)
  if (envVersion !== undefined && !ENV_VERSIONS.includes(envVersion)) throw new TypeError(`scanLogin.envVersion must be one of ${ENV_VERSIONS.join(', ')} (got ${JSON.stringify(envVersion)})`)
  if (width !== undefined && (!Number.isInteger(width) || width < 280 || width > 1280)) throw new TypeError(`scanLogin.width must be an integer from 280 to 1280 (got ${JSON.stringify(width)})`)
  return { ticketTtlMs, appId, code: { page, checkPath, envVersion, width } }
}

/** Scan login's tickets, for routes/scan.ts. */
const scanLoginPlugin: FastifyPluginAsync<ScanLoginOptions> = async (fastify, options) => {
  const { appId, ...config } = scanLoginOf(options)
  let app: string
  try {
    app = fastify.wechat.resolveAppId(appId)
  } catch {
    throw new TypeError(`scanLogin.appId must be the AppID of one of the wechat apps (got ${JSON.stringify(appId)})`)
  }
  const tickets = new ScanTickets(fastify[kGateway])
  // Before the server closes: a page waiting on a ticket (a long poll, an event stream) is answered now.
  fastify.addHook('preClose', async () => tickets.close())
  fastify.decorate(kScanLogin, { ...config, appId: app, tickets })
}

export default fp(scanLoginPlugin, {
  name: 'mpa-scan-login',
  fastify: '5.x',
  dependencies: ['mpa-sessions', 'mpa-wechat', 'mpa-web-sessions']
})
