// Every TypeScript snippet of the READMEs compiles under strict, as a module a
// user can paste: the package's imports resolve to this repository's source.
import t, { test } from 'tap'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { compileSnippets, readmeSnippets } from '../helpers/readme-snippets.js'

// Type-checking loads fastify's, ioredis' and alipay-sdk's types: on a busy 2-core machine, more than a minute.
t.setTimeout(300_000)

const root = fileURLToPath(new URL('../../', import.meta.url))
const readmes = ['README.md', 'README.zh-CN.md'].map((name) => root + name)
const broken = fileURLToPath(new URL('fixtures/broken-snippets.md', import.meta.url))
const options = {
  nodeModules: root + 'node_modules',
  paths: {
    'fastify-miniprogram-auth': [root + 'index.ts'],
    'fastify-miniprogram-auth/sandbox': [root + 'sandbox/index.ts'],
    'fastify-miniprogram-auth/client': [root + 'client/index.ts'],
    'fastify-miniprogram-auth-client': [root + 'client/index.ts']
  }
}

test('the README snippets compile under strict TypeScript', async (t) => {
  const snippets = readmes.flatMap((file) => readmeSnippets(file))
  for (const file of readmes) {
    t.ok(snippets.some((snippet) => snippet.file === file), `${relative(root, file)} has TypeScript snippets`)
  }
  const problems = compileSnippets(snippets, options)
  t.same(problems.map(({ file, line, message }) => `${relative(root, file)}:${line}: ${message}`), [], 'no compile errors')
})

test('the Chinese README shows the same code as the English one (comments aside)', async (t) => {
  const [english, chinese] = readmes.map((file) => readmeSnippets(file).map(({ code }) => withoutComments(code)))
  t.same(chinese, english)
})

function withoutComments (code: string): string {
  // A comment starts a line or follows a space; the `//` of a URL follows a colon.
  return code.split('\n').map((line) => line.replace(/(^|\s)\/\/.*$/, '').trimEnd()).filter((line) => line !== '').join('\n')
}

test('the check reports a broken snippet at its line, and skips what is marked or not TypeScript', async (t) => {
  const snippets = readmeSnippets(broken)
  t.same(snippets.map(({ line, lang }) => ({ line, lang })), [{ line: 6, lang: 'ts' }, { line: 20, lang: 'typescript' }])
  t.match(snippets[1]?.code, /^import Fastify/, 'a block in a list item loses its indentation')
  const problems = compileSnippets(snippets, options)
  t.match(problems, [
    { file: broken, line: 11, message: /string \| undefined/ },
    { file: broken, line: 24, message: /'redis'/ }
  ])
  t.equal(problems.length, 2, 'nothing else')
})
