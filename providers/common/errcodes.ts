import type { FastifyError } from '@fastify/error'
import { CodeBlockedError, CodeInvalidError, MisconfiguredError, UpstreamError, UpstreamRateLimitedError } from '../../errors.js'
import { upstreamMessage, type JsonReply } from './json-http.js'

// WeChat's errcodes (HTTP 200 with an errcode field) and what each becomes.
// QQ answers its jscode2session with the same errcodes.

/** Who answers in WeChat's format: its name in messages, and the plugin option to check. */
export interface Platform {
  label: string
  option: string
}

export const WECHAT: Platform = { label: 'WeChat', option: 'wechat' }

/** WeChat is busy: worth one retry. */
export const BUSY = -1
/** The access token is stale or was replaced elsewhere: one refresh, one retry. */
export const STALE_TOKEN = new Set([40001, 42001, 40014])
/** A getuserphonenumber code that is invalid or spent. */
export const PHONE_CODE_INVALID = 40029
/** checksession: the session_key is not the current one. */
export const SESSION_KEY_INVALID = 87009

// Errcodes that mean the app's credentials or server setup are wrong, not the request.
const MISCONFIGURED = new Map([[40125, 'invalid appsecret'], [40013, 'invalid appid'], [40164, 'server IP not in the API IP whitelist']])

/** The errcode of a reply: 0 when absent, NaN when it is not an integer. */
export function errcodeOf (reply: JsonReply): number {
  const { errcode } = reply
  if (errcode === undefined || errcode === null) return 0
  const n = typeof errcode === 'string' ? Number(errcode) : errcode
  return typeof n === 'number' && Number.isInteger(n) ? n : NaN
}

/**
 * The documented error for an errcode (unknown ones are a 502), and for
 * errcodes the operator must fix, what to fix: for the log only, the client
 * learns no more than that the server is at fault. `secrets` are scrubbed
 * from the errmsg, which can echo them.
 */
export function errcodeError (appId: string, endpoint: string, reply: JsonReply, secrets: string[], { label, option }: Platform = WECHAT): { error: FastifyError, errmsg: string, fix?: string } {
  const errcode = errcodeOf(reply)
  const errmsg = upstreamMessage(reply.errmsg, secrets)
  // An errcode that is not a number is the upstream's text too: scrubbed and cut short like errmsg.
  const detail = `${endpoint} errcode ${Number.isNaN(errcode) ? upstreamMessage(JSON.stringify(reply.errcode), secrets) : errcode}${errmsg ? `: ${errmsg}` : ''}`
  switch (errcode) {
    case 40029:
    case 40163:
      return { error: new CodeInvalidError(detail), errmsg }
    case 45011: // rate limit
    case 45009: // daily quota reached (an API's, or stable_token's forced refreshes)
      return { error: new UpstreamRateLimitedError(detail), errmsg }
    case 40226:
      return { error: new CodeBlockedError(detail), errmsg }
  }
  const problem = MISCONFIGURED.get(errcode)
  if (problem) {
    return {
      error: new MisconfiguredError(`${label} refused app ${appId} (${endpoint} errcode ${errcode}); the server log says what to fix`),
      errmsg,
      fix: `${label} refused app ${appId}: ${problem}; check the ${option} appId/appSecret options and the console's IP whitelist`
    }
  }
  return { error: new UpstreamError(detail), errmsg }
}
