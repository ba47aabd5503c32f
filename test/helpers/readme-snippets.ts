import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ts from 'typescript'

// The TypeScript snippets of a Markdown file, so a test can compile what the
// README shows. A snippet is a fenced ```ts or ```typescript block; one that
// cannot be a whole module is skipped only when the line before its fence
// (blank lines aside) is the opt-out marker.

const NOT_COMPILED = '<!-- not-compiled -->'

export interface Snippet {
  file: string
  /** The 1-based line of the file where the snippet's code starts (the line after its fence). */
  line: number
  lang: 'ts' | 'typescript'
  code: string
}

const OPENING_FENCE = /^( *)(`{3,}|~{3,})\s*([\w-]*)/

export function readmeSnippets (file: string): Snippet[] {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/)
  const snippets: Snippet[] = []
  let previous = ''
  for (let i = 0; i < lines.length; i++) {
    const opening = OPENING_FENCE.exec(lines[i]!)
    if (opening === null) {
      if (lines[i]!.trim() !== '') previous = lines[i]!.trim()
      continue
    }
    const [, indent, fence, info] = opening as unknown as [string, string, string, string]
    // CommonMark: the block ends at a fence of the same character, at least as long, and nothing after it.
    const closing = new RegExp(`^ *${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`)
    let end = i + 1
    while (end < lines.length && !closing.test(lines[end]!)) end++
    const lang = info.toLowerCase()
    if ((lang === 'ts' || lang === 'typescript') && previous !== NOT_COMPILED) {
      // A block inside a list item is indented as far as its fence: the code is not.
      const code = lines.slice(i + 1, end).map((line) => line.startsWith(indent) ? line.slice(indent.length) : line.trimStart())
      snippets.push({ file, line: i + 2, lang, code: code.join('\n') + '\n' })
    }
    previous = ''
    i = end
  }
  return snippets
}

export interface SnippetProblem {
  /** The Markdown file and line for a snippet's error; the source file otherwise. */
  file: string
  line: number
  message: string
}

export interface CompileSnippetsOptions {
  /** The node_modules the snippets import from (fastify, ioredis…). */
  nodeModules: string
  /** tsconfig `paths`: module names mapped to files, such as the package's name to the repository's index.ts. */
  paths?: Record<string, string[]>
}

/**
 * Type-checks every snippet as a module of its own, the way a user pastes it:
 * strict, ESM, `module: nodenext`. Snippets are checked together, except that
 * one which augments a module (`declare module`) gets a program of its own,
 * shared only with its identical copies: its augmentation would otherwise hold
 * for every other snippet. Only the snippets' own errors are reported.
 */
export function compileSnippets (snippets: Snippet[], options: CompileSnippetsOptions): SnippetProblem[] {
  const dir = mkdtempSync(join(tmpdir(), 'readme-snippets-'))
  try {
    symlinkSync(options.nodeModules, join(dir, 'node_modules'), 'dir')
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }))
    const compilerOptions = ts.parseJsonConfigFileContent({
      compilerOptions: {
        strict: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2023'],
        types: ['node'],
        noEmit: true,
        skipLibCheck: true,
        paths: options.paths ?? {}
      },
      files: []
    }, ts.sys, dir).options
    const bySource = new Map<string, Snippet>()
    const shared: string[] = []
    // Keyed by the code: the same snippet in both READMEs augments alike.
    const alone = new Map<string, string[]>()
    snippets.forEach((snippet, i) => {
      const source = join(dir, `snippet-${i}.ts`)
      writeFileSync(source, snippet.code)
      bySource.set(source, snippet)
      if (!/^\s*declare\s+module\b/m.test(snippet.code)) shared.push(source)
      else alone.set(snippet.code, [...alone.get(snippet.code) ?? [], source])
    })
    const problems: SnippetProblem[] = []
    let program: ts.Program | undefined
    for (const rootNames of [shared, ...alone.values()].filter((group) => group.length > 0)) {
      // The previous program lends its parsed files (the package's source, node_modules' types).
      program = ts.createProgram({ rootNames, options: compilerOptions, oldProgram: program })
      // Checking the package's own source is `tsc --noEmit`'s job, and would take longer than the snippets.
      const diagnostics = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()]
      for (const source of rootNames) {
        const file = program.getSourceFile(source)
        diagnostics.push(...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file))
      }
      for (const diagnostic of diagnostics) problems.push(locate(diagnostic, bySource))
    }
    return problems
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function locate (diagnostic: ts.Diagnostic, bySource: Map<string, Snippet>): SnippetProblem {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')
  if (diagnostic.file === undefined || diagnostic.start === undefined) return { file: '(tsc)', line: 0, message }
  const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start)
  const snippet = bySource.get(diagnostic.file.fileName)
  if (snippet === undefined) return { file: diagnostic.file.fileName, line: line + 1, message }
  return { file: snippet.file, line: snippet.line + line, message }
}
