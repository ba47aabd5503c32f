import { createHash, randomBytes } from 'node:crypto'

const SKEY_BYTES = 32
// base64url of 32 bytes: 43 characters, no padding.
const SKEY_PATTERN = /^[A-Za-z0-9_-]{43}$/

/** A new opaque skey: 32 CSPRNG bytes, base64url. */
export function generateSkey (): string {
  return randomBytes(SKEY_BYTES).toString('base64url')
}

/** True when the value could be an skey; checked before any Redis call. */
export function isWellFormedSkey (value: unknown): value is string {
  return typeof value === 'string' && SKEY_PATTERN.test(value)
}

/**
 * The session id: sha256 of the skey, cut to 128 bits (22 base64url
 * characters; still far beyond guessing, and it keeps every Redis key short).
 * It names the Redis key, so a dump, a replica or MONITOR never shows a
 * usable skey.
 */
export function sessionIdOf (skey: string): string {
  return createHash('sha256').update(skey).digest().subarray(0, 16).toString('base64url')
}

export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/
