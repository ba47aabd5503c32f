import type { FastifyError } from '@fastify/error'
import { CodeInvalidError, MisconfiguredError, UpstreamError } from '../../errors.js'
import { upstreamMessage, type JsonReply } from '../common/json-http.js'

// Douyin's err_no values (HTTP 200, { err_no, err_tips, log_id, data }) and
// what each becomes. The table is docs/douyin.md's: Douyin documents these
// numbers for the old jscode2session, and the v2 one answers 40018 too.

// The login code or the anonymous code is invalid, expired or spent.
const CODE_INVALID = new Set([40018, 40019])
// The app's credentials are wrong, not the request.
const MISCONFIGURED = new Map([[40015, 'invalid appid'], [40017, 'invalid secret']])

/** The err_no of a reply: 0 when absent, NaN when it is not an integer. */
export function errNoOf (reply: JsonReply): number {
  const { err_no: errNo } = reply
  if (errNo === undefined || errNo === null) return 0
  const n = typeof errNo === 'string' ? Number(errNo) : errNo
  return typeof n === 'number' && Number.isInteger(n) ? n : NaN
}

/**
 * The documented error for an err_no (unknown ones are a 502), and for those
 * the operator must fix, what to fix: for the log only. `secrets` are
 * scrubbed from err_tips.
 */
export function errNoError (appId: string, endpoint: string, reply: JsonReply, secrets: string[]): { error: FastifyError, errTips: string, logId?: string, fix?: string } {
  const errNo = errNoOf(reply)
  const errTips = upstreamMessage(reply.err_tips, secrets)
  // Douyin's request id: what its support asks for, in every answer of ours.
  // Everything the upstream chose goes through upstreamMessage: scrubbed and cut short.
  const logId = typeof reply.log_id === 'string' ? upstreamMessage(reply.log_id, secrets).slice(0, 64) : undefined
  const withLogId = logId === undefined ? {} : { logId }
  const logIdText = logId === undefined ? '' : ` (log_id ${logId})`
  const detail = `${endpoint} err_no ${Number.isNaN(errNo) ? upstreamMessage(JSON.stringify(reply.err_no), secrets) : errNo}${errTips ? `: ${errTips}` : ''}${logIdText}`
  if (CODE_INVALID.has(errNo)) return { error: new CodeInvalidError(detail), errTips, ...withLogId }
  const problem = MISCONFIGURED.get(errNo)
  if (problem) {
    return {
      error: new MisconfiguredError(`Douyin refused app ${appId} (${endpoint} err_no ${errNo}${logIdText}); the server log says what to fix`),
      errTips,
      ...withLogId,
      fix: `Douyin refused app ${appId}: ${problem}; check the douyin appId/appSecret options`
    }
  }
  return { error: new UpstreamError(detail), errTips, ...withLogId }
}
