import { test } from 'tap'
import { SharedTokens } from '../../providers/common/shared-token.js'
import type { PlatformTokenRecords, SharedToken } from '../../store/platform-tokens.js'

// SharedTokens' waits, with the records of "another instance" played by hand
// (the Redis side is store/platform-tokens.ts, run by the WeCom and Douyin
// tests): a valid token serves while another instance renews it, a wait that
// outlasts the claim gives up, and a token stored meanwhile is taken.

/** Records that hold one token, and a renewal claim another instance may hold. */
function records (initial: SharedToken | null, { claimedElsewhere = false } = {}) {
  const state = { token: initial, claimedElsewhere, grants: 0 }
  const fake = {
    read: async () => state.token,
    write: async (_key: string, token: SharedToken) => { state.token = token },
    claimRenewal: async () => state.claimedElsewhere ? null : 'mine',
    endRenewal: async () => {}
  }
  return { state, records: fake as unknown as PlatformTokenRecords }
}

const source = (state: { grants: number }, budgetMs = 0) => ({
  label: 'test-token',
  keyOf: () => 'k',
  budgetMs: () => budgetMs,
  grant: async () => ({ token: `granted-${++state.grants}`, lifetimeMs: 7200_000 })
})

test('while another instance renews, a token past its renewal but still valid serves', async (t) => {
  const now = Date.now()
  const { state, records: held } = records({ token: 'old', renewAt: now - 1, expiresAt: now + 60_000 }, { claimedElsewhere: true })
  t.equal(await new SharedTokens(held, source(state)).tokenFor('app'), 'old')
  t.equal(state.grants, 0)
})

test('with no valid token and the renewal held elsewhere: the token stored meanwhile, or a 504 once the claim would have lapsed', async (t) => {
  const { state, records: held } = records(null, { claimedElsewhere: true })
  const tokens = new SharedTokens(held, source(state))
  setTimeout(() => { state.token = { token: 'theirs', renewAt: Date.now() + 60_000, expiresAt: Date.now() + 120_000 } }, 60)
  t.equal(await tokens.tokenFor('app'), 'theirs', 'the other instance\'s token, once stored')
  state.token = null
  await t.rejects(tokens.tokenFor('app'), { code: 'MPA_UPSTREAM_TIMEOUT', message: /test-token \(another instance is still fetching the token\)/ })
})

test('a renewal that finds a fresh token stored since its read takes it; a refused token is never handed out', async (t) => {
  const { state, records: mine } = records(null)
  let reads = 0
  const fresh = { token: 'stored-since', renewAt: Date.now() + 60_000, expiresAt: Date.now() + 120_000 }
  const racing = { ...mine, read: async () => ++reads === 1 ? null : fresh } as unknown as PlatformTokenRecords
  t.equal(await new SharedTokens(racing, source(state)).tokenFor('app'), 'stored-since')
  t.equal(state.grants, 0, 'no grant')
  state.token = fresh
  t.equal(await new SharedTokens(mine, source(state)).tokenFor('app', 'stored-since'), 'granted-1', 'the refused one is replaced')
})
