const DEVICE_MAX_LENGTH = 48

/**
 * A short device label from a user agent: its first parenthesised part names
 * the phone ("iPhone; CPU iPhone OS 17_0 like Mac OS X", "Linux; Android 14;
 * 23116PN5BC Build/…"), which is what a device list needs.
 */
export function deviceLabel (userAgent: string): string {
  const platform = /\(([^)]+)\)/.exec(userAgent)?.[1] ?? userAgent
  return platform.slice(0, DEVICE_MAX_LENGTH)
}
