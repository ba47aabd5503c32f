// `node --import ./tools/ts-loader/preload.mjs --import ./tools/ts-loader/register.mjs`
// (the tests, .taprc): the ES-module dependencies with the most files, loaded
// before the TypeScript hooks are registered. Every module loaded after them
// is resolved and loaded through the hooks' thread, and typebox alone is 700
// of a test process's 950 modules. (Not Node 22's compile cache: with it, V8
// counted Node 24's coverage of functions differently, under the gate.)
import { fileURLToPath } from 'node:url'

await import('typebox')
await import('typebox/compile')

// The sandboxes' RSA keys from a pool on disk (sandbox/keys.ts): generating
// them was a quarter of the fast tier's CPU. Children (the demo, npm start) inherit it.
process.env.MPA_SANDBOX_KEY_POOL ??= fileURLToPath(new URL('../../node_modules/.cache/mpa-sandbox-keys/', import.meta.url))
