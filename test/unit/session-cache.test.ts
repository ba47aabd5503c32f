import { test } from 'tap'
import { SessionCache } from '../../store/session-cache.js'
import type { Session } from '../../types.js'

// The cache's bookkeeping, without Redis: what a read that raced an
// invalidation or a flush may store, expiry by the clock, and the bounds.

const NOW = 1_700_000_000_000

function session (id: string, absoluteExpiresAt = NOW + 60_000): Session {
  return { id, provider: 'wechat', appId: 'wx', user: { id: 'u' }, createdAt: NOW, expiresAt: NOW + 30_000, absoluteExpiresAt, secrets: {} }
}

// Entries are looked up by skey; invalidations name the session id.
function skeyOf (id: string): string {
  return `skey-of-${id}`
}

function filled (cache: SessionCache, id: string, bytes = 100, expiresAt = NOW + 30_000): void {
  cache.endRead(cache.beginRead(id, skeyOf(id)), session(id), expiresAt, bytes)
}

test('a read that raced an invalidation of its session, or a flush, stores nothing', (t) => {
  const cache = new SessionCache({ maxEntries: 10, maxBytes: 10_000 })
  const raced = cache.beginRead('a', skeyOf('a'))
  const other = cache.beginRead('b', skeyOf('b'))
  cache.invalidate('a')
  cache.endRead(raced, session('a'), NOW + 30_000, 100)
  cache.endRead(other, session('b'), NOW + 30_000, 100)
  t.equal(cache.get(skeyOf('a'), NOW), null, 'invalidated while in flight: not stored')
  t.ok(cache.get(skeyOf('b'), NOW), 'another session read meanwhile is stored')

  const beforeFlush = cache.beginRead('c', skeyOf('c'))
  cache.flush()
  cache.endRead(beforeFlush, session('c'), NOW + 30_000, 100)
  t.equal(cache.get(skeyOf('c'), NOW), null, 'begun before a flush: not stored')
  t.equal(cache.get(skeyOf('b'), NOW), null, 'the flush emptied the cache')
  filled(cache, 'd')
  t.ok(cache.get(skeyOf('d'), NOW), 'a read begun after the flush is stored')

  const twice = [cache.beginRead('e', skeyOf('e')), cache.beginRead('e', skeyOf('e'))]
  cache.endRead(twice[0]!, session('e'), NOW + 30_000, 100)
  cache.invalidate('e')
  cache.endRead(twice[1]!, session('e'), NOW + 30_000, 100)
  t.equal(cache.get(skeyOf('e'), NOW), null, 'the invalidation drops the stored copy and the read still in flight')

  const thrice = [1, 2, 3].map(() => cache.beginRead('f', skeyOf('f')))
  cache.endRead(thrice[1]!, session('f'), NOW + 30_000, 100)
  cache.invalidate('f')
  cache.endRead(thrice[0]!, session('f'), NOW + 30_000, 100)
  cache.endRead(thrice[2]!, session('f'), NOW + 30_000, 100)
  t.equal(cache.get(skeyOf('f'), NOW), null, 'every read still in flight at the invalidation is kept out, however many')
  filled(cache, 'f')
  t.ok(cache.get(skeyOf('f'), NOW), 'and a read begun after them is stored')
  t.end()
})

test('an entry is served only before its idle and its absolute expiry', (t) => {
  const cache = new SessionCache({ maxEntries: 10, maxBytes: 10_000 })
  filled(cache, 'idle', 100, NOW + 1000)
  t.ok(cache.get(skeyOf('idle'), NOW + 999))
  t.equal(cache.get(skeyOf('idle'), NOW + 1000), null, 'at its idle expiry')
  cache.endRead(cache.beginRead('abs', skeyOf('abs')), session('abs', NOW + 500), NOW + 1000, 100)
  t.ok(cache.get(skeyOf('abs'), NOW + 499))
  t.equal(cache.get(skeyOf('abs'), NOW + 500), null, 'at its absolute expiry, however long Redis keeps the key')
  t.equal(cache.size, 0, 'expired entries are dropped')
  t.end()
})

test('bounded in entries and bytes, oldest first out; oversized records never cached', (t) => {
  const cache = new SessionCache({ maxEntries: 3, maxBytes: 1000 })
  for (const id of ['1', '2', '3', '4']) filled(cache, id)
  t.equal(cache.size, 3)
  t.equal(cache.get(skeyOf('1'), NOW), null, 'the oldest went')
  filled(cache, 'big', 900)
  t.ok(cache.bytes <= 1000, `${cache.bytes} bytes held`)
  t.ok(cache.get(skeyOf('big'), NOW))
  t.same(['2', '3', '4'].map((id) => cache.get(skeyOf(id), NOW) !== null), [false, false, true], 'the oldest made room for it, no more than needed')
  filled(cache, 'huge', 20_000)
  t.equal(cache.get(skeyOf('huge'), NOW), null, 'a record over 16 KiB is read from Redis every time')
  t.ok(cache.get(skeyOf('big'), NOW), 'and pushes nothing out')
  t.end()
})
