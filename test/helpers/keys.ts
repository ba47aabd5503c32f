/** A Redis key as the store names it (`<keyPrefix><part>:<part>`), for tests that check the layout. */
export function keyOf (store: { keyPrefix: string }, ...parts: string[]): string {
  return store.keyPrefix + parts.join(':')
}
