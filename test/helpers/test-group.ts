import { readdirSync } from 'node:fs'
import tap from 'tap'

// Each test process costs ~2.5 s of CPU before its first test (Node, tap's
// process tracking, the library's modules): for the many small files that is
// most of their cost (the 42 files of the first groups: 135 s of CPU apart,
// 41 s in five groups). A group (test/groups/) runs the test files of some
// folders in one process, one file after another; each file still runs alone
// too (`npx tap test/unit/lib.test.ts`).

function testsIn (folder: string): URL[] {
  const dir = new URL(`../${folder}/`, import.meta.url)
  return readdirSync(dir).filter((file) => file.endsWith('.test.ts')).sort().map((file) => new URL(file, dir))
}

/**
 * Imports `files` in order, their tests queued behind a first one that waits
 * for the imports: tap ends a process's root test once its queue runs dry,
 * and a file that awaits its set-up (a child process that starts) would come
 * after the end of the file before it.
 */
async function importAll (files: URL[]): Promise<void> {
  let imported!: () => void
  tap.test('(the group\'s files, imported)', () => new Promise<void>((resolve) => { imported = resolve }))
  for (const file of files) await import(file.href)
  imported()
}

/** Runs every `*.test.ts` of `folders` (under test/), in name order, in this process. */
export async function runTestsOf (...folders: string[]): Promise<void> {
  await importAll(folders.flatMap(testsIn))
}

/**
 * Runs the named files of a folder (`'admin'` for admin.test.ts), in order:
 * a large folder in several processes. `all` names every group of the
 * folder: a file in none of them, or in two, fails every group at once.
 */
export async function runFilesOf (folder: string, names: readonly string[], all: ReadonlyArray<readonly string[]>): Promise<void> {
  const files = testsIn(folder)
  const grouped = all.flat()
  const stray = files.map((file) => file.pathname.split('/').pop()!.replace(/\.test\.ts$/, '')).filter((name) => grouped.filter((other) => other === name).length !== 1)
  if (stray.length > 0 || grouped.length !== files.length) throw new Error(`test/${folder}: every test file must be in exactly one group of its test/groups/ files (check ${stray.join(', ') || 'the names'})`)
  await importAll(names.map((name) => files.find((file) => file.pathname.endsWith(`/${name}.test.ts`))!))
}
