// What one cached session costs in memory: npm run bench:memory
// (node --expose-gc; fills the session cache with 10,000 WeChat sessions as
// Redis returns them and measures the heap before and after).
import { randomBytes } from 'node:crypto'
import { SecretBox } from '../lib/secret-box.js'
import { generateSkey, sessionIdOf } from '../lib/skey.js'
import { SessionCache } from '../store/session-cache.js'
import { decodeRecord, encodeSession, recordBytes } from '../store/session-record.js'

const ENTRIES = 10_000
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with node --expose-gc (npm run bench:memory)')
const cache = new SessionCache({ maxEntries: ENTRIES, maxBytes: Number.MAX_SAFE_INTEGER })
const appId = 'wx0123456789abcdef'
// Sealed secrets, as a production app configures them.
const box = new SecretBox([{ id: 'k1', key: randomBytes(32) }])
let counted = 0
gc()
const before = process.memoryUsage().heapUsed
for (let i = 0; i < ENTRIES; i++) {
  const openId = `o${randomBytes(14).toString('base64url')}`
  const now = Date.now()
  const skey = generateSkey()
  const id = sessionIdOf(skey)
  const record = encodeSession(id, {
    identity: { provider: 'wechat', appId, openId, unionId: `u${randomBytes(14).toString('base64url')}` },
    user: { id: `wechat:${appId}:${openId}` },
    secrets: { sessionKey: randomBytes(16).toString('base64') },
    device: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)',
    createdAt: now,
    absoluteExpiresAt: now + 30 * 86_400_000
  }, now + 7 * 86_400_000, box)
  const fromRedis = Buffer.from(record).toString() // a fresh string, as a reply brings it
  const read = decodeRecord(id, fromRedis, box)
  if (read?.state !== 'live') throw new Error('not a live record')
  counted += recordBytes(fromRedis)
  cache.endRead(cache.beginRead(id, skey), read.session, now + 86_400_000, recordBytes(fromRedis))
}
gc()
const perEntry = (process.memoryUsage().heapUsed - before) / ENTRIES
console.log(`${cache.size} cached WeChat sessions (openid, unionid, session_key, device, default user):`)
console.log(`  ${perEntry.toFixed(0)} bytes of heap each; maxBytes counts ${(counted / ENTRIES).toFixed(0)} of them (the record's strings)`)
