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

const countedElsewhere = new WeakSet<object>()

/**
 * Marks an error whose occurrences are logged elsewhere as a count (the
 * store's open circuit says once that Redis is down, then how many requests
 * it refused): the error contract logs each one at debug only, so an outage
 * does not write a line per request.
 */
export function counted<E extends object> (error: E): E {
  countedElsewhere.add(error)
  return error
}

export function isCounted (error: unknown): boolean {
  return typeof error === 'object' && error !== null && countedElsewhere.has(error)
}
