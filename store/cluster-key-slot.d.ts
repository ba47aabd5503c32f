// cluster-key-slot (the Redis Cluster hash slot of a key, as ioredis itself
// computes it) ships no types.
declare module 'cluster-key-slot' {
  export default function calculateSlot (key: string | Buffer): number
}
