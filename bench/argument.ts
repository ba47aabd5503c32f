import { readFileSync } from 'node:fs'

/**
 * The JSON argument bench/processes.ts wrote to this child's stdin (not argv,
 * whose strings the kernel caps at 128 KiB: a login worker's codes exceed it).
 */
export function benchArgument<T> (): T {
  return JSON.parse(readFileSync(0, 'utf8') || '{}') as T
}
