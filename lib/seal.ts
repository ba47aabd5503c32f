import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

// AES-256-GCM under a key derived from a secret the caller holds (a login
// code). Used to keep a login result for replays of the same code without
// putting the skey in Redis in the clear: only someone who has the code can
// read it back.

function keyOf (secret: string, context: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, context, 'fastify-miniprogram-auth seal v1', 32))
}

export function seal (plaintext: string, secret: string, context: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', keyOf(secret, context), iv)
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return [iv, cipher.getAuthTag(), body].map((part) => part.toString('base64url')).join('.')
}

/** The plaintext, or null when the box was not sealed with this secret and context. */
export function unseal (box: string, secret: string, context: string): string | null {
  const [iv, tag, body] = box.split('.').map((part) => Buffer.from(part, 'base64url'))
  if (!iv || !tag || !body || iv.length !== 12 || tag.length !== 16) return null
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyOf(secret, context), iv)
    decipher.setAuthTag(tag)
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8')
  } catch {
    return null
  }
}
