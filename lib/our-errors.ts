import * as errors from '../errors.js'

const OUR_CODES: ReadonlySet<string> = new Set(Object.values(errors).map((ErrorClass) => new ErrorClass().code))

/**
 * Whether an error carries one of errors.ts's codes, so its status and message
 * are ours to show. A code merely shaped like ours (an app's own 'MPA_…') is
 * not: its message could say anything.
 */
export function isOurError (error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const { code } = error as { code?: unknown }
  return typeof code === 'string' && OUR_CODES.has(code)
}
