import type { Provider } from '../types.js'

// The per-user index of sessions (a sorted set scored by creation time) and
// the cap's choice of what a login replaces. Pure: the store reads and writes
// the index, this says what its entries mean.

/** Session ids are 22 characters (lib/skey.ts): `<id>:<provider>` parts at once. */
const ID_LENGTH = 22

export interface IndexEntry {
  id: string
  /** '' for an entry of 0.1, which named no platform. */
  provider: Provider
  createdAt: number
  /** As stored, for ZREM. */
  member: string
}

// Logins of one process in one millisecond get scores a thousandth of a
// millisecond apart, so the cap replaces the older of them.
let sequence = 0

/** The index score of a session created at `createdAt`. */
export function indexScoreOf (createdAt: number): number {
  sequence = (sequence + 1) % 1000
  return createdAt + sequence / 1000
}

export function indexMember (id: string, provider: Provider): string {
  return `${id}:${provider}`
}

/** ZRANGE … WITHSCORES as entries, oldest first. */
export function indexEntriesOf (flat: Array<string | Buffer>): IndexEntry[] {
  const entries: IndexEntry[] = []
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const member = String(flat[i])
    entries.push({ id: member.slice(0, ID_LENGTH), provider: member.slice(ID_LENGTH + 1), createdAt: Number(flat[i + 1]), member })
  }
  return entries
}

/**
 * What a login beyond a cap replaces, oldest first: of `live` (the user's
 * other live sessions, oldest first), those beyond `platformCap` sessions of
 * the new session's platform, then those beyond `overallCap` sessions in all.
 * The new session counts toward both and is never replaced.
 */
export function replacedBy (live: IndexEntry[], provider: Provider, platformCap: number, overallCap: number): IndexEntry[] {
  const samePlatform = live.filter((entry) => entry.provider === provider)
  const replaced = new Set(samePlatform.slice(0, Math.max(0, samePlatform.length + 1 - platformCap)))
  const kept = live.filter((entry) => !replaced.has(entry))
  for (const entry of kept.slice(0, Math.max(0, kept.length + 1 - overallCap))) replaced.add(entry)
  return live.filter((entry) => replaced.has(entry))
}
