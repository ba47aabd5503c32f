// The error the helper rejects with, and the server's codes it acts on: the
// ones after which logging in again helps, and the ones after which the
// session is over and logging in again by itself would be wrong.

/**
 * The error codes of a 401 after which logging in again helps. The request is
 * then sent once more, except after MPA_SESSION_KEY_EXPIRED, whose encrypted
 * data the caller must get anew after the login.
 */
export const RELOGIN_CODES: readonly string[] = [
  'MPA_SKEY_MISSING', 'MPA_SKEY_MALFORMED', 'MPA_SESSION_EXPIRED', 'MPA_CODE_INVALID', 'MPA_SESSION_KEY_EXPIRED'
]

/** Why a session ended for good: another device's login evicted it, it was revoked (logout elsewhere, an admin), or the user is banned. */
export type SessionEndReason = 'replaced' | 'revoked' | 'banned'

/**
 * The codes after which the session is over and the helper must not log in
 * by itself: with one device per user, a replaced device that logged in again
 * would evict the other one, which would do the same, forever. The 401s end a
 * session; the 403 refuses a banned user's login.
 */
export const SESSION_END_CODES: Readonly<Record<string, SessionEndReason>> = {
  MPA_SESSION_REPLACED: 'replaced',
  MPA_SESSION_REVOKED: 'revoked',
  MPA_SESSION_BANNED: 'banned',
  MPA_USER_BANNED: 'banned'
}

/** A failed request: the server's error reply, or a platform failure (statusCode 0). */
export class AuthClientError extends Error {
  readonly statusCode: number
  /**
   * The server's stable code (MPA_…), or for platform failures
   * 'MPA_CLIENT_REQUEST_FAILED', 'MPA_CLIENT_LOGIN_FAILED' or 'MPA_CLIENT_PHONE_FAILED'.
   */
  readonly code: string
  readonly data: unknown

  constructor (statusCode: number, code: string, message: string, data?: unknown) {
    super(message)
    this.name = 'AuthClientError'
    this.statusCode = statusCode
    this.code = code
    this.data = data
  }
}

/** What a platform said when a call failed: wx, tt and qq give errMsg, my gives errorMessage. */
export function describe (error: unknown): string {
  const { errMsg, errorMessage, error: code } = (error ?? {}) as { errMsg?: string, errorMessage?: string, error?: unknown }
  return errMsg ?? errorMessage ?? (code === undefined ? String(error) : `error ${String(code)}`)
}
