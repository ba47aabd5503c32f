// What a session costs Redis: MEMORY USAGE of each key the store writes, and
// used_memory per session (which also counts Redis's dictionaries and the
// expiry entry), on a redis-server of the bench's own. Part of
// npm run bench:memory. Knob: BENCH_MEMORY_SESSIONS (default 2000).
import { randomBytes } from 'node:crypto'
import { SecretBox } from '../lib/secret-box.js'
import { SessionStore } from '../store/sessions.js'
import { startBenchRedis } from './private-redis.js'

const SESSIONS = Number(process.env.BENCH_MEMORY_SESSIONS ?? 2000)
const appId = 'wx0123456789abcdef'
const redis = await startBenchRedis()
const client = redis.client

async function usage (key: string): Promise<number> {
  return Number(await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'))
}
async function usedMemory (): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await client.info('memory'))?.[1])
}
const mean = (values: number[]) => values.reduce((x, y) => x + y, 0) / values.length
const keys = async (pattern: string) => {
  const found: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    found.push(...batch)
  } while (cursor !== '0')
  return found
}

/** A WeChat login's session, as entry-cost.ts builds it (openid, unionid, session_key, device, default user). */
async function login (store: SessionStore, openId: string) {
  return store.create({ provider: 'wechat', appId, openId, unionId: `u${randomBytes(14).toString('base64url')}` }, {
    user: { id: `wechat:${appId}:${openId}` },
    secrets: { sessionKey: randomBytes(16).toString('base64') },
    device: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)'
  })
}

interface Figures { record: number, index1: number, indexPerEntry: number, usedPerSession: number, tombstone: number, ban: number, latestKey: number }

async function measure (label: string, sealed: boolean): Promise<Figures> {
  const keyPrefix = `mem-${label}:`
  const secretKeys = sealed ? [{ id: 'k1', key: randomBytes(32) }] : undefined
  const store = new SessionStore(client, { keyPrefix, cache: false, ...(secretKeys ? { secretKeys } : {}) })
  await store.create({ provider: 'wechat', appId, openId: 'warm-up' }, { user: { id: 'warm-up' } }) // scripts loaded
  const before = await usedMemory()
  const skeys: string[] = []
  for (let i = 0; i < SESSIONS; i++) skeys.push((await login(store, `o${randomBytes(14).toString('base64url')}-${i}`)).skey)
  const usedPerSession = (await usedMemory() - before) / SESSIONS
  const records = await keys(`${keyPrefix}s:*`)
  const record = mean(await Promise.all(records.slice(0, 500).map(usage)))
  const indexes = await keys(`${keyPrefix}u:*`)
  const index1 = mean(await Promise.all(indexes.slice(0, 500).map(usage)))
  // One user with 1 and with 10 sessions: what each entry adds to the index.
  const many = `o-many-${label}`
  await login(store, many)
  const indexKey = `${keyPrefix}u:{wechat:${appId}:${many}}`
  const one = await usage(indexKey)
  for (let i = 1; i < 10; i++) await login(store, many)
  const indexPerEntry = (await usage(indexKey) - one) / 9
  // A tombstone: a logged-out session's key (kept until the session's own expiry).
  const tombstones: number[] = []
  for (const skey of skeys.slice(0, 200)) await store.revoke(skey)
  for (const key of records.slice(0, 2000)) {
    const value = await client.get(key)
    if (value?.startsWith('t|')) tombstones.push(await usage(key))
  }
  // A ban (the user's key, beside their sessions' tombstones).
  await store.ban(`wechat:${appId}:${many}`, { reason: 'bench' })
  const ban = await usage(`${keyPrefix}ban:{wechat:${appId}:${many}}`)
  // The latest session_key per openid (WeChat, QQ, Douyin logins): its key and sealed value as the login writes them.
  const latest = `${keyPrefix}wechat:sk:${randomBytes(32).toString('base64url').slice(0, 43)}`
  const box = new SecretBox(secretKeys)
  await client.set(latest, box.seal(randomBytes(16).toString('base64'), latest), 'PX', 30 * 86_400_000)
  const latestKey = await usage(latest)
  store.close()
  return { record, index1, indexPerEntry, usedPerSession, tombstone: mean(tombstones), ban, latestKey }
}

try {
  const clear = await measure('clear', false)
  const sealed = await measure('sealed', true)
  const row = (name: string, pick: (f: Figures) => number) => `| ${name} | ${pick(clear).toFixed(0)} | ${pick(sealed).toFixed(0)} |`
  console.log(`\n${SESSIONS} WeChat sessions (openid, unionid, session_key, device, default user), one per user, Redis ${redis.version} (${redis.kind}); bytes:\n`)
  console.log('| Redis key | clear | sealed (secretKeys) |\n|---|---:|---:|')
  console.log(row('session record `s:<id>` (MEMORY USAGE)', (f) => f.record))
  console.log(row('user index `u:{uid}` holding 1 session (MEMORY USAGE)', (f) => f.index1))
  console.log(row('each further index entry (10 sessions − 1, / 9)', (f) => f.indexPerEntry))
  console.log(row('**used_memory per session + its index** (dictionaries and expiry entries included)', (f) => f.usedPerSession))
  console.log(row('tombstone `s:<id>` after a logout (until the session\'s idle expiry)', (f) => f.tombstone))
  console.log(row('ban `ban:{uid}` (reason "bench")', (f) => f.ban))
  console.log(row('latest session_key per openid `wechat:sk:<hash>` (WeChat/QQ/Douyin logins, 30 days)', (f) => f.latestKey))
  console.log(`\nwith the latest session_key record a WeChat user costs about ${(clear.usedPerSession + clear.latestKey).toFixed(0)} B clear, ` +
    `${(sealed.usedPerSession + sealed.latestKey).toFixed(0)} B sealed (MEMORY USAGE of that key added to used_memory per session)`)
} finally {
  await redis.stop()
}
