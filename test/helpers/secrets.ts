import { createPrivateKey } from 'node:crypto'
import type { Test } from 'tap'
import type { LogCapture } from './app.js'

/** What a suite saw, for the one leak check every provider suite ends with. */
export interface LeakEvidence {
  /**
   * What must show in no reply and no log line: every secret a sandbox
   * issued (`sandbox.secrets()`: WeChat app secrets, session_keys, access
   * tokens; Alipay access and refresh tokens), app private keys
   * (`privateKeyTexts`), and the like.
   */
  secrets: string[]
  /** The skeys the suite obtained: a login reply carries its own skey by design, so these are checked against the logs only. */
  skeys?: string[]
  logs: LogCapture | LogCapture[]
  /** Every reply body the apps sent. */
  replies: string[]
}

/**
 * Proves that no secret reached a reply and no secret or skey reached a log
 * line, each as is and URL-encoded (a form body, a query string).
 */
export function assertNoSecrets (t: Test, { secrets, skeys = [], logs, replies }: LeakEvidence): void {
  const captures = Array.isArray(logs) ? logs : [logs]
  const logText = captures.map((capture) => capture.text).join('\n')
  const replyText = replies.join('\n')
  const forms = (values: string[]) => [...new Set(values.filter((value) => value.length > 0).flatMap((value) => [value, encodeURIComponent(value)]))]
  const neverAnywhere = forms(secrets)
  const neverLogged = forms([...secrets, ...skeys])
  t.ok(captures.some((capture) => capture.lines.length > 0), 'log lines were captured')
  t.ok(replies.length > 0, 'replies were captured')
  t.ok(secrets.length > 0, 'secrets were issued')
  t.same(neverLogged.filter((secret) => logText.includes(secret)), [], `no secret or skey in any log line (${secrets.length} secrets, ${skeys.length} skeys)`)
  t.same(neverAnywhere.filter((secret) => replyText.includes(secret)), [], `no secret in any reply (${replies.length} replies)`)
}

/**
 * A private key as the texts a leak of it would show: the base64 lines of
 * its PKCS#1 and PKCS#8 encodings (a PEM, a bare key, a key in a message
 * all carry whole lines or runs of them), each long enough to mean the key.
 */
export function privateKeyTexts (privateKey: string | Buffer): string[] {
  const key = createPrivateKey(privateKey)
  return (['pkcs1', 'pkcs8'] as const).flatMap((type) => {
    const base64 = key.export({ type, format: 'der' }).toString('base64')
    return base64.match(/.{1,64}/g)!.filter((line) => line.length >= 32)
  })
}
