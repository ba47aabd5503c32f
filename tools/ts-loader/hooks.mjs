// Module hooks that run the TypeScript sources as they are, for the tests,
// the demo and the bench: each .ts file is transpiled alone by esbuild (types
// stripped, no type checking: `npm run typecheck` does that), with an inline
// source map so stack traces and coverage point at the .ts lines. Imports
// name the .js file tsc will emit; here they find the .ts source beside it.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync } from 'node:fs'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { transform, version } from 'esbuild'

const TYPESCRIPT = /\.[cm]?ts$/

// What tsconfig.json says that changes the emitted JavaScript.
const tsconfigRaw = {
  compilerOptions: { target: 'ES2022', useDefineForClassFields: true, verbatimModuleSyntax: true, experimentalDecorators: true }
}

export async function resolve (specifier, context, nextResolve) {
  if (context.parentURL?.startsWith('file:') && /^\.{1,2}\/.*\.[cm]?js$/.test(specifier)) {
    const source = new URL(specifier.replace(/js$/, 'ts'), context.parentURL)
    if (existsSync(source)) return nextResolve(source.href, context)
  }
  return nextResolve(specifier, context)
}

// Transpiled files by the hash of what went in: every test process loads the
// same hundred files, and reading one back is far cheaper than a transform.
const CACHE = new URL('../../node_modules/.cache/mpa-ts-loader/', import.meta.url)
mkdirSync(CACHE, { recursive: true })

export async function load (url, context, nextLoad) {
  if (!url.startsWith('file:') || !TYPESCRIPT.test(url)) return nextLoad(url, context)
  const path = fileURLToPath(url)
  const format = url.endsWith('.cts') ? 'commonjs' : 'module'
  const source = await readFile(path, 'utf8')
  const cached = new URL(createHash('sha256').update(`${version}\0${path}\0${source}`).digest('hex') + '.js', CACHE)
  const hit = await readFile(cached, 'utf8').catch(() => null)
  if (hit !== null) return { format, source: hit, shortCircuit: true }
  const { code } = await transform(source, {
    loader: 'ts',
    format: format === 'commonjs' ? 'cjs' : 'esm',
    target: 'node20',
    sourcemap: 'inline',
    sourcefile: path,
    tsconfigRaw
  })
  // Written aside, then renamed: parallel test processes never read half a file.
  const temporary = new URL(`${cached.href}.${process.pid}.${Math.random().toString(36).slice(2)}`)
  await writeFile(temporary, code)
  await rename(temporary, cached)
  return { format, source: code, shortCircuit: true }
}
