import { randomUUID } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { errors, type AuthUser, type Identity } from '../../index.js'

// One user, several ways in. A real app keeps these two maps as tables (see
// docs/accounts.md for the SQL); the in-memory version shows the rules:
//   users(id)                                   the people
//   identities(key primary key, user_id, …)     the ways in: one row per platform account
// A key names an identity on one platform. WeChat's unionid is the same
// person across the apps of one open-platform account (mini-program,
// official account, website, mobile app), so it is a key of its own.

/** The keys an identity is found under: its unionid, and its account on the platform's app. */
function keysOf (identity: Identity): string[] {
  const account = identity.openId ?? identity.alipayUserId
  return [
    ...(identity.unionId === undefined ? [] : [`unionid:${identity.unionId}`]),
    ...(account === undefined ? [] : [`${identity.provider}:${identity.appId}:${account}`])
  ]
}

export interface AccountUser {
  id: string
  /** The platforms this user can log in with: what `request.user` carries into every session. */
  providers: string[]
}

export class Users {
  readonly #users = new Map<string, AccountUser>()
  /** identity key → its owner, and the platform that brought it */
  readonly #identities = new Map<string, { userId: string, provider: string }>()

  /** `resolveUser`: the user of any key of the identity, else a new user who owns them all. */
  resolveUser = (identity: Identity): AuthUser => {
    const keys = keysOf(identity)
    const owner = keys.map((key) => this.#identities.get(key)).find((entry) => entry !== undefined)
    const user = owner === undefined ? this.#create() : this.#users.get(owner.userId)!
    // A new surface of a known unionid (the website after the mini-program) joins its user.
    this.#own(user, identity, keys)
    return { ...user, providers: [...user.providers] }
  }

  /**
   * `linkIdentity`: the identity becomes the user's, unless it is someone
   * else's already (409). The user's live sessions learn the new platform.
   */
  linkIdentity = async (user: AuthUser, identity: Identity, request: FastifyRequest): Promise<void> => {
    const keys = keysOf(identity)
    const userId = String(user.id)
    if (keys.some((key) => (this.#identities.get(key)?.userId ?? userId) !== userId)) throw new errors.IdentityInUseError()
    const owner = this.#users.get(userId)!
    this.#own(owner, identity, keys)
    await request.server.sessions.updateUser(userId, { providers: [...owner.providers] })
  }

  /** The app's own unlink: the user drops a platform, never their last one. False if that would leave none. */
  unlink (userId: string, provider: string): boolean {
    const user = this.#users.get(userId)
    if (user === undefined || !user.providers.includes(provider) || user.providers.length === 1) return false
    for (const [key, owner] of this.#identities) {
      if (owner.userId === userId && owner.provider === provider) this.#identities.delete(key)
    }
    user.providers = user.providers.filter((name) => name !== provider)
    return true
  }

  get (id: string): AccountUser | undefined {
    return this.#users.get(id)
  }

  #create (): AccountUser {
    const user = { id: randomUUID(), providers: [] }
    this.#users.set(user.id, user)
    return user
  }

  #own (user: AccountUser, identity: Identity, keys: string[]): void {
    for (const key of keys) if (!this.#identities.has(key)) this.#identities.set(key, { userId: user.id, provider: identity.provider })
    if (!user.providers.includes(identity.provider)) user.providers.push(identity.provider)
  }
}
