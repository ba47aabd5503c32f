import type { Redis } from 'ioredis'
import type { MiniprogramAuthOptions, RevokeEvent } from '../../index.js'

/**
 * The app's options for fastify-miniprogram-auth, in a module of their own:
 * the app registers the plugin with them, and an admin script builds its
 * session admin from the very same object (key prefix, session options,
 * onRevoke), so neither can drift from the other.
 */
export function authOptions (redis: Redis, audit: (event: RevokeEvent) => void | Promise<void>): MiniprogramAuthOptions {
  return {
    redis,
    keyPrefix: process.env.MPA_KEY_PREFIX ?? 'myapp:',
    session: { ttl: '7d', maxAge: '30d', maxPerUser: 5 },
    onRevoke: (event) => audit(event)
  }
}
