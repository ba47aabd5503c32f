import diagnostics from 'node:diagnostics_channel'
import { Redis } from 'ioredis'
import { createSessionAdmin, type RevocationEvent } from '../../index.js'
import { authOptions } from './auth-options.js'

// Logs a user out everywhere from outside the HTTP app: lists their
// sessions, revokes the newest, then the rest. Each revocation reaches the
// options' onRevoke (here an audit line) and this process's revocation
// channel. (`admin.ban(userId)` would end them all and refuse their logins.)
//   node revoke-user.js <userId>

const userId = process.argv[2]
if (userId === undefined) {
  console.error('usage: revoke-user <userId>')
  process.exit(2)
}

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
redis.on('error', (err) => { console.error(`redis: ${err.message}`) })
diagnostics.subscribe('fastify-miniprogram-auth:revocation', (event) => {
  console.log(JSON.stringify({ channel: event as RevocationEvent }))
})

const admin = createSessionAdmin(authOptions(redis, (event) => { console.log(JSON.stringify({ audit: event })) }))
try {
  const sessions = await admin.list(userId)
  console.log(JSON.stringify({ listed: sessions.map(({ id, device, createdAt }) => ({ id, device, createdAt })) }))
  const [newest] = sessions
  if (newest !== undefined) await admin.revoke({ userId, sessionId: newest.id })
  await admin.revoke({ userId })
} finally {
  await admin.close() // waits for the onRevoke calls in flight
  redis.disconnect()
}
