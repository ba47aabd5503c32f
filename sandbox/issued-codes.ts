import { randomBytes } from 'node:crypto'

// Single-use login codes that expire, as the platforms hand them out: the
// part every code-login sandbox keeps the same way.

interface IssuedCode {
  appId: string
  /** Who the code logs in (an openid, or a corp user). */
  subject: string
  issuedAt: number
  used: boolean
}

export class IssuedCodes {
  private readonly codes = new Map<string, IssuedCode>()

  constructor (private readonly ttlMs: number, private readonly now: () => number) {}

  issue (appId: string, subject: string): string {
    const code = randomBytes(24).toString('base64url')
    this.codes.set(code, { appId, subject, issuedAt: this.now(), used: false })
    return code
  }

  /** Spends a code good for this app (unexpired, unused): its subject, or undefined. */
  spend (code: unknown, appId: string): string | undefined {
    const found = typeof code === 'string' ? this.codes.get(code) : undefined
    if (!found || found.used || found.appId !== appId || this.now() - found.issuedAt >= this.ttlMs) return undefined
    found.used = true
    return found.subject
  }
}

/** A request's parameters: the query string's, then a form body's (the platforms take either). */
export function paramsOf (url: URL, body: string): Record<string, string> {
  return { ...Object.fromEntries(url.searchParams), ...Object.fromEntries(new URLSearchParams(body)) }
}
