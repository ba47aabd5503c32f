import { test } from 'tap'
import { SessionCache } from '../../store/session-cache.js'
import type { Session } from '../../types.js'

// The cache's bookkeeping, without Redis: what a read that raced an
// invalidation or a flush may store, expiry by the clock, and the bounds.

const NOW = 1_700_000_000_000

function session (id: string, absoluteExpiresAt = NOW + 60_000): Session {
  return { id, provider: 'wechat', appId: 'wx', user: { id: 'u' }, createdAt: NOW, expiresAt: NOW + 30_000, absoluteExpiresAt, secrets: {} }
}

function filled (cache: SessionCache, id: string, bytes = 100, expiresAt = NOW + 30_000): void {
  cache.endRead(cache.beginRead(id), session(id), expiresAt, bytes)
}

test('a read that raced an invalidation of its session, or a flush, stores nothing', (t) => {
  const cache = new SessionCache({ maxEntries: 10, maxBytes: 10_000 })
  const raced = cache.beginRead('a')
  const other = cache.beginRead('b')
  cache.invalidate('a')
  cache.endRead(raced, session('a'), NOW + 30_000, 100)
  cache.endRead(other, session('b'), NOW + 30_000, 100)
  t.equal(cache.get('a', NOW), null, 'invalidated while in flight: not stored')
  t.ok(cache.get('b', NOW), 'another session read meanwhile is stored')

  const beforeFlush = cache.beginRead('c')
  cache.flush()
  cache.endRead(beforeFlush, session('c'), NOW + 30_000, 100)
  t.equal(cache.get('c', NOW), null, 'begun before a flush: not stored')
  t.equal(cache.get('b', NOW), null, 'the flush emptied the cache')
  filled(cache, 'd')
  t.ok(cache.get('d', NOW), 'a read begun after the flush is stored')

  const twice = [cache.beginRead('e'), cache.beginRead('e')]
  cache.endRead(twice[0]!, session('e'), NOW + 30_000, 100)
  cache.invalidate('e')
  cache.endRead(twice[1]!, session('e'), NOW + 30_000, 100)
  t.equal(cache.get('e', NOW), null, 'the invalidation drops the stored copy and the read still in flight')
  t.end()
})

test('an entry is served only before its idle and its absolute expiry', (t) => {
  const cache = new SessionCache({ maxEntries: 10, maxBytes: 10_000 })
  filled(cache, 'idle', 100, NOW + 1000)
  t.ok(cache.get('idle', NOW + 999))
  t.equal(cache.get('idle', NOW + 1000), null, 'at its idle expiry')
  cache.endRead(cache.beginRead('abs'), session('abs', NOW + 500), NOW + 1000, 100)
  t.ok(cache.get('abs', NOW + 499))
  t.equal(cache.get('abs', NOW + 500), null, 'at its absolute expiry, however long Redis keeps the key')
  t.equal(cache.size, 0, 'expired entries are dropped')
  t.end()
})

test('bounded in entries and bytes, oldest first out; oversized records never cached', (t) => {
  const cache = new SessionCache({ maxEntries: 3, maxBytes: 1000 })
  for (const id of ['1', '2', '3', '4']) filled(cache, id)
  t.equal(cache.size, 3)
  t.equal(cache.get('1', NOW), null, 'the oldest went')
  filled(cache, 'big', 900)
  t.ok(cache.bytes <= 1000, `${cache.bytes} bytes held`)
  t.ok(cache.get('big', NOW))
  t.same(['2', '3', '4'].map((id) => cache.get(id, NOW) !== null), [false, false, true], 'the oldest made room for it, no more than needed')
  filled(cache, 'huge', 20_000)
  t.equal(cache.get('huge', NOW), null, 'a record over 16 KiB is read from Redis every time')
  t.ok(cache.get('big', NOW), 'and pushes nothing out')
  t.end()
})
