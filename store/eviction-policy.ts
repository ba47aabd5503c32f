import { Cluster, type Redis } from 'ioredis'
import type { RedisGateway } from './gateway.js'

/**
 * Each node's `maxmemory-policy` (every master of a Cluster), or null where
 * CONFIG is not allowed: managed services often forbid it.
 */
export async function evictionPolicies (gateway: RedisGateway): Promise<Array<{ node: string, policy: string | null }>> {
  const nodes: Redis[] = gateway.redis instanceof Cluster ? gateway.redis.nodes('master') : [gateway.redis]
  return Promise.all(nodes.map(async (node) => {
    const name = `${node.options.host ?? 'localhost'}:${node.options.port ?? 6379}`
    try {
      const reply = await gateway.run('eviction-policy.read', () => node.config('GET', 'maxmemory-policy'))
      return { node: name, policy: reply[1] ?? null }
    } catch {
      return { node: name, policy: null }
    }
  }))
}
