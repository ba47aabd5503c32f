// Compiled by `tsc --noEmit` (npm test), not run: it proves the public types
// let an app type its user and use request.user without casts.
import Fastify from 'fastify'
import miniprogramAuth, { type Identity } from '../../index.js'

interface AppUser {
  id: number
  role: 'admin' | 'member'
}

declare module '../../index.js' {
  interface FastifyMiniprogramAuth {
    user: AppUser
  }
}

const app = Fastify()
await app.register(miniprogramAuth, {
  session: { ttl: '7d', maxAge: 30 * 86_400, header: 'x-skey', maxPerUser: 5 },
  resolveUser: async (identity: Identity): Promise<AppUser> => ({ id: identity.openId!.length, role: 'member' })
})

app.get('/orders', { preHandler: app.authenticate }, async (request) => {
  const id: number = request.user.id
  const role: 'admin' | 'member' = request.user.role
  // @ts-expect-error the augmented user has no such field
  request.user.nickName.toString()
  const sessionKey: string | undefined = request.session.secrets.sessionKey
  // @ts-expect-error secrets are read-only
  request.session.secrets = {}
  return { id, role, provider: request.session.provider, hasKey: sessionKey !== undefined }
})

// @ts-expect-error a user without an id is refused
await app.sessions.create({ provider: 'wechat', appId: 'wx' }, { user: { role: 'admin' } })
await app.sessions.revokeUser(1)
