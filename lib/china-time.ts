/** An instant as Alipay's gateway reads timestamps: 'yyyy-MM-dd HH:mm:ss' in China time (GMT+8), whatever the server's zone. */
export function chinaTimestamp (now = Date.now()): string {
  return new Date(now + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ')
}
