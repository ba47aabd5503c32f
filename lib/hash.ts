import { hash } from 'node:crypto'

/** sha256 as base64url: names a secret (a login code, an openid) in a Redis key without revealing it. */
export function sha256Base64url (value: string): string {
  return hash('sha256', value, 'base64url')
}
