import { hash, randomBytes } from 'node:crypto'

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

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/**
 * The session id: sha256 of the skey, cut to 128 bits (22 base64url
 * characters; still far beyond guessing, and it keeps every Redis key short).
 * It names the Redis key, so a dump, a replica or MONITOR never shows a
 * usable skey.
 */
export function sessionIdOf (skey: string): string {
  // Every authenticated request pays this, so it takes the one-shot hash
  // straight to a string (about a sixth of the cost of a Hash object and a
  // Buffer). The digest's first 21 characters are the first 126 bits; the
  // 22nd of a 16-byte encoding keeps bits 127-128 and zeros below them.
  const digest = hash('sha256', skey, 'base64url')
  return digest.slice(0, 21) + BASE64URL.charAt(BASE64URL.indexOf(digest.charAt(21)) & 0b110000)
}

export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/
