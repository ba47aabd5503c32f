import { execFile, execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { Teardown } from '../helpers/redis.js'

// The package as a consumer gets it: `npm pack` (which runs prepack, the
// build), then `npm install` of the tarball into an empty project outside the
// repository, so nothing resolves from the repository's own node_modules. The
// pack runs in a copy of the sources: the build never writes into the working
// tree's dist/, which a demo running beside the tests may be serving.

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

const run = promisify(execFile)

/** Runs npm in `cwd`; a failure rejects with npm's own output. */
export async function npm (cwd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run('npm', args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } })
    return stdout
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string, stderr?: string }
    throw new Error(`npm ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}${stderr ?? ''}`, { cause: err })
  }
}

export interface Packed {
  /** The tarball's absolute path. */
  tarball: string
  /** Every path in the tarball, relative to the package root. */
  files: string[]
}

/**
 * The repository's files (tracked, and new ones git does not ignore) copied
 * into a folder of `t`'s, beside a link to its node_modules.
 */
export function sourceCopy (t: Teardown): string {
  const copy = tempDir(t, 'source')
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 })
  for (const file of listed.split('\0')) {
    // A file deleted but not yet committed is still listed.
    if (file !== '' && existsSync(join(ROOT, file))) cpSync(join(ROOT, file), join(copy, file))
  }
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'))
  return copy
}

/** `npm pack` of the package in `source` (or of one of its workspaces) into `destination`. */
export async function pack (source: string, destination: string, workspace?: string): Promise<Packed> {
  const args = ['pack', '--json', '--pack-destination', destination, ...(workspace ? ['--workspace', workspace] : [])]
  // The build (prepack) prints ahead of the JSON.
  const stdout = await npm(source, args)
  const [result] = JSON.parse(stdout.slice(stdout.search(/^\[/m))) as Array<{ filename: string, files: Array<{ path: string }> }>
  return { tarball: join(destination, result!.filename), files: result!.files.map((file) => file.path) }
}

/** A folder under the system temp dir, removed when `t` ends. */
export function tempDir (t: Teardown, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `mpa-${name}-`))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** An empty project with this package.json, for `npm install`. */
export function project (t: Teardown, name: string, manifest: Record<string, unknown> = {}): string {
  const dir = tempDir(t, name)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '0.0.0', private: true, ...manifest }, null, 2))
  return dir
}

/**
 * `npm install` into `dir`, from the npm cache when it can (the repository's
 * own `npm ci` has filled it): no audit, no funding message, no lockfile
 * resolved URLs to keep.
 */
export async function install (dir: string, specs: string[]): Promise<void> {
  await npm(dir, ['install', '--prefer-offline', '--no-audit', '--no-fund', ...specs])
}

/** The version of a package the repository has installed, so a test project installs the same one from the cache. */
export function installedVersion (name: string): string {
  return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
}
