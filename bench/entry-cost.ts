// What one cached session costs in memory: npm run bench:memory
// (node --expose-gc; fills the session cache with 10,000 WeChat sessions as
// Redis returns them and measures the heap before and after).
import { randomBytes } from 'node:crypto'
import { generateSkey, sessionIdOf } from '../lib/skey.js'
import { SessionCache } from '../store/session-cache.js'
import { decodeSession, encodeSession, freezeSession, recordBytes } from '../store/session-record.js'

const ENTRIES = 10_000
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with node --expose-gc (npm run bench:memory)')
const cache = new SessionCache({ maxEntries: ENTRIES, maxBytes: Number.MAX_SAFE_INTEGER })
const appId = 'wx0123456789abcdef'
let counted = 0
gc()
const before = process.memoryUsage().heapUsed
for (let i = 0; i < ENTRIES; i++) {
  const openId = `o${randomBytes(14).toString('base64url')}`
  const now = Date.now()
  const fields = encodeSession({
    identity: { provider: 'wechat', appId, openId, unionId: `u${randomBytes(14).toString('base64url')}` },
    user: { id: `wechat:${appId}:${openId}` },
    secrets: { sessionKey: randomBytes(16).toString('base64') },
    device: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)',
    createdAt: now,
    absoluteExpiresAt: now + 30 * 86_400_000
  })
  const fromRedis = JSON.parse(JSON.stringify(fields)) as Record<string, string> // fresh strings, as a reply brings them
  const skey = generateSkey()
  const id = sessionIdOf(skey)
  counted += recordBytes(fromRedis)
  cache.endRead(cache.beginRead(id, skey), freezeSession(decodeSession(id, fromRedis, now + 86_400_000)), now + 86_400_000, recordBytes(fromRedis))
}
gc()
const perEntry = (process.memoryUsage().heapUsed - before) / ENTRIES
console.log(`${cache.size} cached WeChat sessions (openid, unionid, session_key, device, default user):`)
console.log(`  ${perEntry.toFixed(0)} bytes of heap each; maxBytes counts ${(counted / ENTRIES).toFixed(0)} of them (the record's strings)`)
