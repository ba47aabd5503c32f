import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

// The upstream secrets the store keeps (a session's session_key, Alipay's
// tokens, access tokens), sealed with AES-256-GCM under a key of the app's
// before they reach Redis: a dump, a replica or a wrong ACL then gives away
// nothing usable. Each box names its key, so keys rotate without logging
// anyone out: the first key seals, every key opens. The box is bound to where
// it is stored (`context`: the session id, the AppID), so it cannot be moved
// into another record. Pure: no I/O.

export interface SecretKey {
  /** Short, stored with every box it seals ('2026-12'): letters, digits, '_' and '-'. */
  id: string
  /** 32 bytes: a Buffer, or base64 of them. */
  key: Buffer | string
}

// `box1.<key id>.<iv>.<tag>.<ciphertext>`, base64url: no secret a platform
// hands out starts so (session_keys are base64, tokens letters and digits).
const PREFIX = 'box1.'
const BOX = /^box1\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]*)$/

/** Seals and opens secrets with the app's keys; without keys, passes them through. */
export class SecretBox {
  readonly #keys: Map<string, Buffer>
  readonly #current: string | undefined

  /** `keys` as the option gives them; each message names `option`. */
  constructor (keys: SecretKey[] | undefined, option = 'secretKeys') {
    if (keys !== undefined && (!Array.isArray(keys) || keys.length === 0)) {
      throw new TypeError(`${option} must be a non-empty array of { id, key } (the first seals, every one opens)`)
    }
    this.#keys = new Map()
    for (const [i, entry] of (keys ?? []).entries()) {
      const { id, key } = (entry ?? {}) as Partial<SecretKey>
      if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(id)) throw new TypeError(`${option}[${i}].id must be 1 to 32 letters, digits, '_' or '-'`)
      if (this.#keys.has(id)) throw new TypeError(`${option}[${i}].id '${id}' is used twice`)
      const bytes = Buffer.isBuffer(key) ? key : typeof key === 'string' ? Buffer.from(key, 'base64') : null
      // The key itself is never repeated: it is a secret.
      if (bytes === null || bytes.length !== 32) throw new TypeError(`${option}[${i}].key must be 32 bytes (a Buffer, or base64 of 32 random bytes)`)
      this.#keys.set(id, bytes)
    }
    this.#current = keys?.[0]?.id
  }

  /** Whether secrets are sealed (keys were given). */
  get sealing (): boolean {
    return this.#current !== undefined
  }

  /** `plaintext` sealed for `context`, or as is without keys. */
  seal (plaintext: string, context: string): string {
    if (this.#current === undefined) return plaintext
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.#current)!, iv)
    cipher.setAAD(Buffer.from(context))
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return `${PREFIX}${this.#current}.${iv.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}.${body.toString('base64url')}`
  }

  /**
   * What `seal` sealed for `context`; a value that is not a box (written
   * before keys were set) as is; null for a box no key here opens.
   */
  open (stored: string, context: string): string | null {
    if (!stored.startsWith(PREFIX)) return stored
    const box = BOX.exec(stored)
    if (box === null) return null
    const [, id, iv, tag, body] = box as unknown as [string, string, string, string, string]
    const key = this.#keys.get(id)
    if (key === undefined) return null
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
      decipher.setAAD(Buffer.from(context))
      decipher.setAuthTag(Buffer.from(tag, 'base64url'))
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8')
    } catch {
      return null
    }
  }
}
