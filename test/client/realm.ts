import { dirname, relative, resolve as resolvePath } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createContext, runInContext } from 'node:vm'
import ts from 'typescript'
import type * as Client from '../../client/index.js'

// The helper as a mini-program runs it: the build of tsconfig.client.json
// (ES2017 CommonJS, one file per module), loaded in a realm that has nothing
// but the ECMAScript built-ins, each module inside a function whose
// parameters are its free variables: module, exports, require and the
// platform's or framework's object, as WeChat's runtime and its likes do.

export type ClientModule = typeof Client

/** Globals a mini-program realm lacks; none may leak into it. */
const FOREIGN = ['URL', 'fetch', 'TextEncoder', 'Buffer', 'setImmediate', 'setTimeout', 'process', 'require', 'wx', 'my', 'tt', 'qq', 'ks', 'swan', 'uni', 'Taro']

export interface Build {
  config: ts.ParsedCommandLine
  /** Emitted files by their path under the output folder ('index.js', 'adapters/wechat.js'). */
  files: Record<string, string>
}

function clientConfig (): ts.ParsedCommandLine {
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d: ts.Diagnostic) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')) } }
  return ts.getParsedCommandLineOfConfigFile(fileURLToPath(new URL('../../tsconfig.client.json', import.meta.url)), {}, host)!
}

/** The output path of a source file, under the output folder ('client/adapters/wechat.ts' → 'adapters/wechat.js'). */
function emittedName (config: ts.ParsedCommandLine, fileName: string): string {
  return relative(config.options.rootDir ?? dirname(config.fileNames[0]!), fileName).replace(/\.ts$/, '.js')
}

/**
 * The mini-program build, each module transpiled on its own with the
 * options of tsconfig.client.json (milliseconds, where a whole program takes
 * seconds; the build test checks it equals `npm run build`'s); made once.
 */
export const clientBuild = memo((): Build => {
  const config = clientConfig()
  const files: Record<string, string> = {}
  // The modules index.ts reaches, by their relative imports, as the program would find them.
  const pending = [...config.fileNames]
  for (let fileName = pending.pop(); fileName !== undefined; fileName = pending.pop()) {
    const name = emittedName(config, fileName)
    if (name in files) continue
    const source = ts.sys.readFile(fileName)!
    files[name] = ts.transpileModule(source, { compilerOptions: config.options, fileName }).outputText
    for (const { fileName: specifier } of ts.preProcessFile(source).importedFiles) {
      if (specifier.startsWith('.')) pending.push(resolvePath(dirname(fileName), specifier.replace(/\.js$/, '.ts')))
    }
  }
  return { config, files }
})

/** The build as `npm run build` makes it (the whole program, type-checked), in memory: seconds. */
export function clientProgramBuild (): Build & { diagnostics: string[] } {
  const config = clientConfig()
  const program = ts.createProgram(config.fileNames, config.options)
  const outDir = config.options.outDir!
  const files: Record<string, string> = {}
  program.emit(undefined, (name, text) => { files[name.slice(outDir.length + 1)] = text })
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
  return { config, files, diagnostics }
}

function memo<T> (make: () => T): () => T {
  let made: { value: T } | undefined
  return () => (made ??= { value: make() }).value
}

/**
 * Requires `entry` of `files` in a bare realm with `globals` as the modules'
 * free variables; `require` resolves only relative paths among `files`, as a
 * mini-program's does within a package. `leaked` lists the foreign globals
 * the realm has (none, when all is well).
 */
export function loadInRealm (files: Record<string, string>, globals: Record<string, unknown>, entry = 'index.js'): { exports: ClientModule, leaked: string[] } {
  const context = createContext({})
  const names = Object.keys(globals)
  const cache = new Map<string, { exports: unknown }>()

  function load (path: string): unknown {
    const cached = cache.get(path)
    if (cached) return cached.exports
    const code = files[path]
    if (code === undefined) throw new Error(`no module ${path} in the build (${Object.keys(files).join(', ')})`)
    const module = runInContext('({ exports: {} })', context) as { exports: unknown }
    cache.set(path, module)
    const run = runInContext(`(function (module, exports, require, ${names.join(', ')}) {${code}\n})`, context) as (...args: unknown[]) => void
    run(module, module.exports, (specifier: string) => load(resolve(path, specifier)), ...Object.values(globals))
    return module.exports
  }

  const exports = load(entry) as ClientModule
  const leaked = FOREIGN.filter((name) => runInContext(`typeof globalThis.${name}`, context) !== 'undefined')
  return { exports, leaked }
}

/** A relative specifier from the module at `from`, as a path among the files. */
function resolve (from: string, specifier: string): string {
  if (!specifier.startsWith('.')) throw new Error(`${from} requires ${specifier}: a mini-program package may require only its own files`)
  const parts = from.split('/').slice(0, -1)
  for (const part of specifier.split('/')) {
    if (part === '..') parts.pop()
    else if (part !== '.') parts.push(part)
  }
  const path = parts.join('/')
  return path.endsWith('.js') ? path : `${path}.js`
}

/** The built helper in a realm with only these globals (the platform's or framework's object). */
export function clientInRealm (globals: Record<string, unknown>): { exports: ClientModule, leaked: string[] } {
  return loadInRealm(clientBuild().files, globals)
}
