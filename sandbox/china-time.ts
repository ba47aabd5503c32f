// Alipay reads request timestamps, and writes auth_start, as China time (GMT+8,
// no daylight saving) whatever the caller's TZ. Independent of the product's
// chinaTimestamp on purpose: a fake that reuses the code under test cannot
// catch its bugs.

const CHINA_OFFSET_MS = 8 * 3_600_000

/** 'yyyy-MM-dd HH:mm:ss' as China time (GMT+8), whatever this process's TZ. */
export function formatChinaTime (ms: number): string {
  return new Date(ms + CHINA_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ')
}

/** The instant a 'yyyy-MM-dd HH:mm:ss' China time names; undefined when it is not in that shape. */
export function parseChinaTime (text: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text)
  if (!match) return undefined
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number]
  return Date.UTC(y, mo - 1, d, h, mi, s) - CHINA_OFFSET_MS
}
