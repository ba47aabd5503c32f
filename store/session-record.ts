import { MisconfiguredError } from '../errors.js'
import { deviceLabel } from '../lib/device.js'
import type { SecretBox } from '../lib/secret-box.js'
import type { AuthUser, Identity, Provider, Session, SessionEndReason, SessionSecrets } from '../types.js'

// The session record: one Redis string per session, read with one GET.
//
//   2|<idle expiry, 13 digits>|<JSON>   a live session
//   t|<reason letter>                   a session that ended early (a tombstone)
//
// The idle expiry travels with the record at a fixed place, so a renewal
// rewrites 13 digits (SETRANGE) and a read needs no PTTL. The JSON has short
// field names; the upstream secrets in it are sealed with the app's keys
// (lib/secret-box.ts) and opened only when read. This is the Redis layout:
// never rename a field. Records of 0.1 (a hash per session) are still read.

const LIVE = '2|'
const ENDED = 't|'
/** Where the idle expiry's digits start, and how many there are. */
const EXPIRY_OFFSET = LIVE.length
const EXPIRY_DIGITS = 13
const JSON_OFFSET = EXPIRY_OFFSET + EXPIRY_DIGITS + 1

const REASON_LETTERS: Record<SessionEndReason, string> = { revoked: 'x', replaced: 'r', banned: 'b' }
const REASONS = new Map(Object.entries(REASON_LETTERS).map(([reason, letter]) => [letter, reason as SessionEndReason]))

/** What a record holds, as JSON. */
interface Fields {
  /** provider */
  p: Provider
  /** appId */
  a: string
  /** openId */
  o?: string
  /** alipayUserId */
  i?: string
  /** unionId */
  n?: string
  /** device label */
  d?: string
  /** createdAt, epoch ms */
  c: number
  /** absoluteExpiresAt, epoch ms */
  x: number
  /** the user, when it is not the default one rebuilt from the identity */
  u?: AuthUser
  /** the secrets: sealed (a string) or, without keys, as they are */
  s?: string | StoredSecrets
}

// Each secret under a short name.
interface StoredSecrets { sk?: string, at?: string, rt?: string }
const SECRET_NAMES = { sessionKey: 'sk', accessToken: 'at', refreshToken: 'rt' } as const satisfies Record<keyof SessionSecrets, keyof StoredSecrets>

export interface NewSession {
  identity: Identity
  user: AuthUser
  secrets: SessionSecrets
  /** The login request's User-Agent. */
  device?: string | undefined
  createdAt: number
  absoluteExpiresAt: number
}

/** What a read of a session key found. */
export type RecordRead =
  | { state: 'live', session: Session, idleExpiresAt: number }
  | { state: 'ended', reason: SessionEndReason }
  | null

/** The user id an app user gives the session index, or MPA_MISCONFIGURED for a resolveUser that returned no usable id. */
export function userIdOf (user: AuthUser): string {
  const id = (user as { id?: unknown } | null)?.id
  if ((typeof id === 'string' && id.length > 0 && id.length <= 256) || (typeof id === 'number' && Number.isFinite(id))) {
    return String(id)
  }
  throw new MisconfiguredError('resolveUser must return an object with an id (a non-empty string up to 256 characters, or a number)')
}

/** The user id `defaultResolveUser` gives an identity. */
export function defaultUserIdOf (identity: Pick<Identity, 'provider' | 'appId' | 'openId' | 'alipayUserId'>): string {
  return `${identity.provider}:${identity.appId}:${identity.openId ?? identity.alipayUserId}`
}

/** The default user (frozen: it is built here, nothing else holds it), whatever type the app declared for AuthUser. */
function defaultUserOf (fields: Pick<Fields, 'p' | 'a' | 'o' | 'i'>): AuthUser {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  return Object.freeze({ id: defaultUserIdOf({ provider: fields.p, appId: fields.a, openId: fields.o, alipayUserId: fields.i }) }) as unknown as AuthUser
}

/** The record of a new session, live until `idleExpiresAt`; its secrets sealed for session `id`. */
export function encodeSession (id: string, { identity, user, secrets, device, createdAt, absoluteExpiresAt }: NewSession, idleExpiresAt: number, box: SecretBox): string {
  const fields: Fields = { p: identity.provider, a: identity.appId, c: createdAt, x: absoluteExpiresAt }
  if (identity.openId) fields.o = identity.openId
  if (identity.alipayUserId) fields.i = identity.alipayUserId
  if (identity.unionId) fields.n = identity.unionId
  if (device) fields.d = deviceLabel(device)
  // The default user is rebuilt from the identity on read, not stored twice.
  if (userIdOf(user) !== defaultUserIdOf(identity) || Object.keys(user).length > 1) fields.u = user
  const stored: StoredSecrets = {}
  for (const [name, short] of Object.entries(SECRET_NAMES)) {
    const value = secrets[name as keyof SessionSecrets]
    if (value) stored[short] = value
  }
  if (Object.keys(stored).length > 0) fields.s = box.sealing ? box.seal(JSON.stringify(stored), id) : stored
  return recordOf(idleExpiresAt, JSON.stringify(fields))
}

function recordOf (idleExpiresAt: number, json: string): string {
  return `${LIVE}${String(Math.floor(idleExpiresAt)).padStart(EXPIRY_DIGITS, '0')}|${json}`
}

/** The same record with `user` in it (a live record only; null otherwise). */
export function withUser (record: string, user: AuthUser): string | null {
  if (!record.startsWith(LIVE)) return null
  const fields = JSON.parse(record.slice(JSON_OFFSET)) as Fields
  if (userIdOf(user) !== userIdOf(fields.u ?? defaultUserOf(fields))) throw new TypeError('updateUser cannot change the user id')
  fields.u = user
  return recordOf(Number(record.slice(EXPIRY_OFFSET, EXPIRY_OFFSET + EXPIRY_DIGITS)), JSON.stringify(fields))
}

/** The digits of an idle expiry, as a renewal writes them in place. */
export function expiryDigits (idleExpiresAt: number): string {
  return String(Math.floor(idleExpiresAt)).padStart(EXPIRY_DIGITS, '0')
}

/** A tombstone: the session ended early, and why. */
export function tombstone (reason: SessionEndReason): string {
  return ENDED + REASON_LETTERS[reason]
}

/**
 * What a session key holds: a live session (its user frozen, its secrets
 * opened only when read), an early end and its reason, or null (none, or not
 * a record of ours). `renewedUntil` stands in for the stored idle expiry.
 */
export function decodeRecord (id: string, record: string | null, box: SecretBox, renewedUntil?: number): RecordRead {
  if (record === null) return null
  if (record.startsWith(ENDED)) {
    const reason = REASONS.get(record.slice(ENDED.length))
    return reason === undefined ? null : { state: 'ended', reason }
  }
  if (!record.startsWith(LIVE)) return null
  // A renewal this read set off: the session as it will be stored.
  const idleExpiresAt = renewedUntil ?? Number(record.slice(EXPIRY_OFFSET, EXPIRY_OFFSET + EXPIRY_DIGITS))
  const fields = JSON.parse(record.slice(JSON_OFFSET)) as Fields
  const user = fields.u === undefined ? defaultUserOf(fields) : deepFrozen(fields.u)
  return { state: 'live', session: Object.freeze(new StoredSession(id, fields, user, Math.min(idleExpiresAt, fields.x), box)), idleExpiresAt }
}

/**
 * A session read from its record, read-only (its user too: a cached session
 * is shared by every request that uses it). `secrets` is a getter of the
 * class, so neither JSON.stringify, a logger nor a spread sees it; it opens
 * them the first time it is read: a request that does not need them pays
 * nothing, and a miss defines no property of its own.
 */
class StoredSession implements Session {
  readonly id: string
  readonly provider: Provider
  readonly appId: string
  readonly user: AuthUser
  readonly createdAt: number
  readonly expiresAt: number
  readonly absoluteExpiresAt: number
  // Own properties only when the record has them (declared: no field defined as undefined).
  declare readonly openId?: string
  declare readonly alipayUserId?: string
  declare readonly unionId?: string
  declare readonly device?: string
  readonly #stored: Fields['s']
  readonly #box: SecretBox
  #opened: SessionSecrets | undefined

  constructor (id: string, fields: Fields, user: AuthUser, expiresAt: number, box: SecretBox) {
    this.id = id
    this.provider = fields.p
    this.appId = fields.a
    this.user = user
    this.createdAt = fields.c
    this.expiresAt = expiresAt
    this.absoluteExpiresAt = fields.x
    if (fields.o) this.openId = fields.o
    if (fields.i) this.alipayUserId = fields.i
    if (fields.n) this.unionId = fields.n
    if (fields.d) this.device = fields.d
    this.#stored = fields.s
    this.#box = box
  }

  get secrets (): SessionSecrets {
    // A private field, not a property: set on a frozen session.
    this.#opened ??= Object.freeze(secretsOf(this.id, this.#stored, this.#box))
    return this.#opened
  }
}

function secretsOf (id: string, stored: Fields['s'], box: SecretBox): SessionSecrets {
  if (stored === undefined) return {}
  let plain: StoredSecrets | null = typeof stored === 'string' ? null : stored
  if (typeof stored === 'string') {
    const json = box.open(stored, id)
    plain = json === null ? {} : JSON.parse(json) as StoredSecrets
  }
  const secrets: SessionSecrets = {}
  for (const [name, short] of Object.entries(SECRET_NAMES)) {
    const value = plain?.[short]
    if (value) secrets[name as keyof SessionSecrets] = value
  }
  return secrets
}

/**
 * A session record of 0.1 (a hash with a TTL), read as a live session: they
 * are read, renewed and revoked until they expire, never written anew.
 */
export function decodeLegacyRecord (id: string, hash: Record<string, string>, pttl: number, now: number, box: SecretBox): RecordRead {
  if (!hash.c || pttl <= 0) return null
  const fields: Fields = { p: hash.p as Provider, a: hash.a ?? '', c: Number(hash.c), x: Number(hash.x) }
  if (hash.o) fields.o = hash.o
  if (hash.i) fields.i = hash.i
  if (hash.n) fields.n = hash.n
  if (hash.d) fields.d = hash.d
  if (hash.usr) fields.u = JSON.parse(hash.usr) as AuthUser
  const stored: StoredSecrets = {}
  for (const short of Object.values(SECRET_NAMES)) if (hash[short]) stored[short] = hash[short]
  if (Object.keys(stored).length > 0) fields.s = stored
  return decodeRecord(id, recordOf(now + pttl, JSON.stringify(fields)), box)
}

function deepFrozen<T> (value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value
  Object.freeze(value)
  for (const inner of Object.values(value)) deepFrozen(inner)
  return value
}

/** About what a record costs in memory once read: its characters (UTF-16, two bytes each). */
export function recordBytes (record: string): number {
  return record.length * 2
}
