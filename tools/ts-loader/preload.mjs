// `node --import ./tools/ts-loader/preload.mjs --import ./tools/ts-loader/register.mjs`
// (the tests, .taprc). Module loading is most of a test process's CPU:
// - Node 22.1+ keeps V8's compiled code of every module in node_modules/.cache
//   (Node 20 has no such cache: nothing happens there);
// - the ES-module dependencies with the most files are loaded before the
//   TypeScript hooks are registered: every module loaded after them is resolved
//   and loaded through the hooks' thread, and typebox alone is 700 of a test
//   process's 950 modules (0.3 s of CPU a process).
import module from 'node:module'
import { fileURLToPath } from 'node:url'

module.enableCompileCache?.(fileURLToPath(new URL('../../node_modules/.cache/mpa-compile-cache', import.meta.url)))
await import('typebox')
await import('typebox/compile')
