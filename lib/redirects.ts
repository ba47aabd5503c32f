/** One allowed place to send a browser after a login: an origin, and a path prefix on it ('/' for any). */
export interface AllowedRedirect {
  origin: string
  path: string
}

const MAX_TARGET_LENGTH = 2048
// A raw target must spell its scheme and authority out: no 'https:evil', no '//evil', no '/\evil'.
const ABSOLUTE = /^https?:\/\/[^/\\]/i
// Whitespace, controls and backslashes: parsers disagree on them (browsers read '\' as '/').
const AMBIGUOUS = /[\s\p{Cc}\\]/u

/** The allow-list, checked at register: absolute http(s) URLs, no user info, query or fragment. */
export function allowedRedirectsOf (entries: unknown, option: string): AllowedRedirect[] {
  if (!Array.isArray(entries)) throw new TypeError(`${option} must be an array of URLs such as 'https://app.example.com/' (got ${JSON.stringify(entries)})`)
  return entries.map((entry, i) => {
    const url = typeof entry === 'string' && ABSOLUTE.test(entry) && !AMBIGUOUS.test(entry) ? URL.parse(entry) : null
    if (url === null || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || entry.includes('?') || entry.includes('#')) {
      throw new TypeError(`${option}[${i}] must be an absolute http(s) URL (an origin or a path prefix) without user info, query or fragment (got ${JSON.stringify(entry)})`)
    }
    return { origin: url.origin, path: url.pathname }
  })
}

/**
 * The URL to redirect to if `target` is allowed, normalized (what the browser
 * will load), else null. Same scheme, host and port as an entry, and a path
 * under its prefix after '..' and '%2e' segments are resolved.
 */
export function allowedRedirect (target: unknown, allowed: readonly AllowedRedirect[]): string | null {
  if (typeof target !== 'string' || target.length > MAX_TARGET_LENGTH || !ABSOLUTE.test(target) || AMBIGUOUS.test(target)) return null
  const url = URL.parse(target)
  if (url === null || url.username !== '' || url.password !== '') return null
  const under = allowed.some(({ origin, path }) => url.origin === origin && isUnder(url.pathname, path))
  return under ? url.href : null
}

/** '/app' allows '/app' and '/app/…', never '/apple'; '/app/' allows what is under it. */
function isUnder (pathname: string, prefix: string): boolean {
  if (prefix.endsWith('/')) return pathname.startsWith(prefix)
  return pathname === prefix || pathname.startsWith(prefix + '/')
}

// A path of this site: '/' then neither a second '/' nor '\' (another host to a browser), no whitespace or control characters.
const SAME_SITE_PATH = /^\/(?![/\\])[^\s\p{Cc}\\]*$/u

/** Where a web-view ticket may send the browser: a path of this site, or an absolute URL the allow-list allows; else null. */
export function webviewRedirect (target: string, allowed: readonly AllowedRedirect[]): string | null {
  if (target.length <= MAX_TARGET_LENGTH && SAME_SITE_PATH.test(target)) return target
  return allowedRedirect(target, allowed)
}
