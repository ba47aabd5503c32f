import type { Cluster, Redis } from 'ioredis'

// What a client's options say of the Redis nodes behind it, and the reply of
// a node that is no longer the master: shared by the gateway, the revocation
// writers and the tracking connections, which each follow the nodes.

const READONLY = /\bREADONLY\b/

/** True for the error of a write sent to a replica. */
export function isReadOnlyError (err: unknown): boolean {
  return err instanceof Error && READONLY.test(err.message)
}

/** The sentinels of a client set up with ioredis's Sentinel options (it finds its master through them), else null. */
export function sentinelsOf (redis: Redis | Cluster): Array<{ host?: string, port?: number }> | null {
  const sentinels = (redis.options as { sentinels?: Array<{ host?: string, port?: number }> | null }).sentinels
  return Array.isArray(sentinels) && sentinels.length > 0 ? sentinels : null
}

/** A node's address as its connection options say, `host:port`. */
export function nodeName (node: Redis): string {
  return `${node.options.host ?? 'localhost'}:${node.options.port ?? 6379}`
}
