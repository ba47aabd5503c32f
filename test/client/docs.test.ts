import { test } from 'tap'
import { fileURLToPath } from 'node:url'
import { compileSnippets, readmeSnippets } from '../helpers/readme-snippets.js'

// docs/client.md's TypeScript snippets compile under strict, as a mini-program
// project pastes them: the package's name resolves to this repository's source.
// (The Taro one imports @tarojs/taro, which test/package/client-typings.test.ts installs.)

const root = fileURLToPath(new URL('../../', import.meta.url))

test('docs/client.md: the snippets compile', async (t) => {
  const snippets = readmeSnippets(root + 'docs/client.md')
  t.ok(snippets.length >= 5, `${snippets.length} snippets`)
  const problems = compileSnippets(snippets, { nodeModules: root + 'node_modules', paths: { 'fastify-miniprogram-auth-client': [root + 'client/index.ts'] } })
  t.same(problems.map(({ line, message }) => `docs/client.md:${line}: ${message}`), [])
})
