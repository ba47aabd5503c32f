import type { FastifyError } from '@fastify/error'
import { CodeInvalidError, MisconfiguredError, UpstreamError, UpstreamRateLimitedError } from '../../errors.js'
import type { Platform } from './errcodes.js'
import { upstreamMessage } from './json-http.js'

// What a platform's refusal becomes, for the platforms whose errors are not
// WeChat's errcodes (Kuaishou's result, Baidu's error): each provider sorts
// its platform's codes into these kinds, and this file makes the error.

interface Refusal {
  /** The platform's code for it (a number, or a string like OAuth's 'invalid_grant'). */
  code: string | number
  /** The platform's message, as it sent it (scrubbed and cut short here). */
  message: unknown
}

/** What a refusal means: the code is bad, the platform throttles, anything else, or the operator must fix the app (what is wrong goes to the log). */
export type PlatformRefusal =
  | Refusal & { kind: 'code-invalid' | 'rate-limited' | 'upstream' }
  | Refusal & { kind: 'misconfigured', problem: string }

/**
 * The documented error for a refusal, and for one the operator must fix,
 * what to fix: for the log only (the client learns the server is at fault).
 */
export function refusalError (platform: Platform, appId: string, endpoint: string, refusal: PlatformRefusal, secrets: string[]): { error: FastifyError, fix?: string } {
  const code = upstreamMessage(String(refusal.code), secrets)
  const message = upstreamMessage(refusal.message, secrets)
  const detail = `${endpoint} ${code}${message ? `: ${message}` : ''}`
  switch (refusal.kind) {
    case 'code-invalid':
      return { error: new CodeInvalidError(detail) }
    case 'rate-limited':
      return { error: new UpstreamRateLimitedError(detail) }
    case 'misconfigured':
      return {
        error: new MisconfiguredError(`${platform.label} refused app ${appId} (${endpoint} ${code}); the server log says what to fix`),
        fix: `${platform.label} refused app ${appId}: ${refusal.problem}; check the ${platform.option} options`
      }
    default:
      return { error: new UpstreamError(detail) }
  }
}
