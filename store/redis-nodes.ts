import { createRequire } from 'node:module'
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

/**
 * Whether a Sentinel client's `failoverDetector` can end it for good: before
 * ioredis 6.1.0 the detector of a connection already lost stays subscribed,
 * and a `+switch-master` reaching it while the client asks the sentinels for
 * the new master ends the client (status `end`, every command refused). The
 * version is the ioredis this package resolves (the app's own, as a peer),
 * looked up only for such a client; where it cannot be (a bundle without
 * ioredis's package.json), nothing is said rather than the plugin refused.
 */
export function failoverDetectorMayEnd (redis: Redis | Cluster, ioredisVersion?: string): boolean {
  if (sentinelsOf(redis) === null || (redis.options as { failoverDetector?: boolean }).failoverDetector !== true) return false
  const version = ioredisVersion ?? installedIoredisVersion()
  if (version === null) return false
  const [major = 0, minor = 0] = version.split('.').map(Number)
  return major < 6 || (major === 6 && minor < 1)
}

function installedIoredisVersion (): string | null {
  try {
    return (createRequire(import.meta.url)('ioredis/package.json') as { version: string }).version
  } catch {
    return null
  }
}

/** A node's address as its connection options say, `host:port`. */
export function nodeName (node: Redis): string {
  return `${node.options.host ?? 'localhost'}:${node.options.port ?? 6379}`
}
