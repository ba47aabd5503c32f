import { readdirSync } from 'node:fs'

// Each test process costs ~1.7 s of CPU before its first test (Node, tap's
// process tracking, the library's modules): for the many small files that is
// most of their cost. A group (test/groups/) runs every test file of some
// folders in one process, one file after another; each file still runs alone
// too (`npx tap test/unit/lib.test.ts`).

/** Imports every `*.test.ts` of `folders` (under test/), in name order: their tests run in this process. */
export async function runTestsOf (...folders: string[]): Promise<void> {
  for (const folder of folders) {
    const dir = new URL(`../${folder}/`, import.meta.url)
    for (const name of readdirSync(dir).filter((file) => file.endsWith('.test.ts')).sort()) await import(new URL(name, dir).href)
  }
}
