import type { Redis } from 'ioredis'

/**
 * Deletes every key under `prefix` and says how many: SCAN, never KEYS (a
 * shared Redis holds others' keys too), UNLINK a batch at a time. For the
 * tests and the bench; the product deletes only keys it names.
 */
export async function deleteKeys (redis: Redis, prefix: string): Promise<number> {
  const pattern = prefix.replace(/[*?[\]\\]/g, '\\$&') + '*'
  let deleted = 0
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) deleted += await redis.unlink(...keys)
  } while (cursor !== '0')
  return deleted
}
