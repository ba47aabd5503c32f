const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * Parses a duration given as seconds (number) or as a string like '500ms',
 * '30s', '15m', '12h', '7d'. Returns milliseconds, or throws naming `option`.
 */
export function parseDuration (value: unknown, option: string): number {
  // Whole milliseconds, rounded up: Redis PX and PEXPIRE take integers only.
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return wholeMs(value * 1000)
  if (typeof value === 'string') {
    const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(value.trim())
    if (match) {
      const ms = wholeMs(Number(match[1]) * UNIT_MS[match[2] as string]!)
      if (ms > 0) return ms
    }
  }
  throw new TypeError(`${option} must be a positive number of seconds or a string like '30m', '12h' or '7d' (got ${JSON.stringify(value)})`)
}

/** Rounded up, but not past a float error: 4.03 × 1000 is 4030.000000000001, which is 4030 ms. */
function wholeMs (ms: number): number {
  return Math.ceil(ms - 1e-6)
}
