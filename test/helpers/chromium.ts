import { existsSync } from 'node:fs'
import { test, type Test } from 'tap'

// Debian's Chromium, for the end-to-end tier (the Playwright download host is
// out of reach): where it is, the flags every test launches it with, and a
// test that needs it.

export const CHROMIUM = '/usr/bin/chromium'
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync'
]

/** `test(name, body)` when Chromium is installed; else a skip, or in CI (which installs it) a failure. */
export function chromiumTest (name: string, body: (t: Test) => Promise<void>): void {
  if (existsSync(CHROMIUM)) test(name, body)
  else if (process.env.CI === 'true') test('chromium is installed', async (t) => { t.fail(`${CHROMIUM} is missing: .ci/run installs it with apt-get install -y chromium`) })
  else test(name, { skip: `${CHROMIUM} is missing (apt-get install -y chromium)` }, () => {})
}
