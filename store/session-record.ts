import { MisconfiguredError } from '../errors.js'
import { deviceLabel } from '../lib/device.js'
import type { AuthUser, Identity, Provider, Session, SessionSecrets } from '../types.js'

// The session record: one Redis hash per session, with short field names that
// keep a session under 300 bytes. The field names are the Redis layout: never
// rename one.
const F = {
  user: 'usr',
  provider: 'p',
  appId: 'a',
  openId: 'o',
  alipayUserId: 'i',
  unionId: 'n',
  device: 'd',
  createdAt: 'c',
  absoluteExpiresAt: 'x'
} as const

// Each secret in a field of its own: no JSON wrapping to pay for.
const SECRET_FIELDS: Record<keyof SessionSecrets, string> = {
  sessionKey: 'sk',
  accessToken: 'at',
  refreshToken: 'rt'
}

export type SessionFields = Record<string, string>

export interface NewSession {
  identity: Identity
  user: AuthUser
  secrets: SessionSecrets
  /** The login request's User-Agent. */
  device?: string | undefined
  createdAt: number
  absoluteExpiresAt: number
}

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

export function encodeSession ({ identity, user, secrets, device, createdAt, absoluteExpiresAt }: NewSession): SessionFields {
  const fields: SessionFields = {
    [F.provider]: identity.provider,
    [F.appId]: identity.appId,
    [F.createdAt]: String(createdAt),
    [F.absoluteExpiresAt]: String(absoluteExpiresAt)
  }
  // The default user is rebuilt from the identity on read, not stored twice.
  if (userIdOf(user) !== defaultUserIdOf(identity) || Object.keys(user).length > 1) fields[F.user] = JSON.stringify(user)
  if (identity.openId) fields[F.openId] = identity.openId
  if (identity.alipayUserId) fields[F.alipayUserId] = identity.alipayUserId
  if (identity.unionId) fields[F.unionId] = identity.unionId
  for (const [name, field] of Object.entries(SECRET_FIELDS)) {
    const value = secrets[name as keyof SessionSecrets]
    if (value) fields[field] = value
  }
  if (device) fields[F.device] = deviceLabel(device)
  return fields
}

/** False for an empty hash (no such session) and for anything that is not a session record. */
export function isSessionRecord (fields: SessionFields): boolean {
  return Boolean(fields[F.createdAt])
}

export function absoluteExpiryOf (fields: SessionFields): number {
  return Number(fields[F.absoluteExpiresAt])
}

export function userOf (fields: SessionFields): AuthUser {
  const stored = fields[F.user]
  if (stored) return JSON.parse(stored) as AuthUser
  // The default user, whatever type the app declared for AuthUser.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  return {
    id: defaultUserIdOf({ provider: fields[F.provider] as Provider, appId: fields[F.appId] as string, openId: fields[F.openId], alipayUserId: fields[F.alipayUserId] })
  } as unknown as AuthUser
}

/** The Session a record describes; its secrets are not enumerable. */
export function decodeSession (id: string, fields: SessionFields, expiresAt: number): Session {
  const session = {
    id,
    provider: fields[F.provider] as Provider,
    appId: fields[F.appId] as string,
    user: userOf(fields),
    createdAt: Number(fields[F.createdAt]),
    expiresAt,
    absoluteExpiresAt: absoluteExpiryOf(fields)
  } as Session
  if (fields[F.openId]) session.openId = fields[F.openId]
  if (fields[F.alipayUserId]) session.alipayUserId = fields[F.alipayUserId]
  if (fields[F.unionId]) session.unionId = fields[F.unionId]
  if (fields[F.device]) session.device = fields[F.device]
  const secrets: SessionSecrets = {}
  for (const [name, field] of Object.entries(SECRET_FIELDS)) {
    if (fields[field]) secrets[name as keyof SessionSecrets] = fields[field]
  }
  Object.defineProperty(session, 'secrets', { value: secrets, enumerable: false })
  return session
}

/** Makes a session read-only, its user too: a cached session is shared by every request that uses it. */
export function freezeSession (session: Session): Session {
  deepFreeze(session.user)
  return Object.freeze(session)
}

function deepFreeze (value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return
  Object.freeze(value)
  for (const inner of Object.values(value)) deepFreeze(inner)
}

/** About what a record costs in memory: its field names and values (UTF-16, two bytes a character). */
export function recordBytes (fields: SessionFields): number {
  let characters = 0
  for (const name in fields) characters += name.length + (fields[name]?.length ?? 0)
  return characters * 2
}
