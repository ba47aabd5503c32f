import tap, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { LogCapture } from '../helpers/app.js'
import { deleteKeys, REDIS_URL, testRedis } from '../helpers/redis.js'
import { assertNoSecrets, privateKeyTexts } from '../helpers/secrets.js'
import { install, installedVersion, pack, project, sourceCopy, tempDir } from './npm.js'

// The published package as an application gets it: one `npm pack` (its
// prepack builds) and one install of the tarball, with fastify and ioredis as
// the application's own (the peers), into a strict TypeScript project outside
// the repository. There fixtures/consumer.ts compiles twice, as ESM (.ts) and
// as CommonJS (.cts: `require`), and each build logs in on both platforms
// through the package's sandboxes on the real Redis, in a child process (the
// READMEs' snippets are compiled by test/docs/). A second project, a plain
// CommonJS application (no "type" field, a .ts file, `module: node20`) still
// on ioredis 5, installs the same tarball beside it (no --legacy-peer-deps:
// the peer range takes both majors) and runs the same consumer.

const run = promisify(execFile)
const PACKAGE = 'fastify-miniprogram-auth'
const CONSUMER = new URL('fixtures/consumer.ts', import.meta.url)

// The build, the install and tsc take about two minutes on a busy 2-core machine.
tap.setTimeout(600_000)

const { tarball, files } = await pack(sourceCopy(tap), tempDir(tap, 'pack'))
const specs = [tarball, ...['fastify', 'ioredis', 'typescript', '@types/node'].map((name) => `${name}@${installedVersion(name)}`)]
const ioredis5Specs = specs.map((spec) => spec.startsWith('ioredis@') ? `ioredis@${installedVersion('ioredis5')}` : spec)
const app = project(tap, 'consumer', { type: 'module' })
// The CommonJS application: no "type" field, so its .ts compiles to CommonJS.
const cjsApp = project(tap, 'cjs-consumer')
// Both installs at once, from the npm cache.
await Promise.all([install(app, specs), install(cjsApp, ioredis5Specs)])
copyFileSync(CONSUMER, join(app, 'esm.ts'))
copyFileSync(CONSUMER, join(app, 'cjs.cts'))
copyFileSync(CONSUMER, join(cjsApp, 'app.ts'))

// Strict, as a new project has it (skipLibCheck: checking every dependency's declarations takes minutes).
const strict = { strict: true, target: 'es2022', skipLibCheck: true, types: ['node'] }
writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...strict, module: 'nodenext' }, files: ['esm.ts', 'cjs.cts'] }, null, 2))
// node20 (TypeScript 5.9) is node16 resolution plus Node 20's require() of ES modules; node16 itself refuses an ESM-only package (TS1479, tested below).
writeFileSync(join(cjsApp, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...strict, module: 'node20', moduleResolution: 'node16' }, files: ['app.ts'] }, null, 2))

/** tsc -p in a consumer project, with extra command-line options. */
async function tsc (dir = app, args: string[] = []): Promise<{ code: number, output: string }> {
  try {
    const { stdout } = await run(join(dir, 'node_modules/.bin/tsc'), ['-p', '.', ...args], { cwd: dir })
    return { code: 0, output: stdout }
  } catch (err) {
    const { code, stdout } = err as { code: number, stdout: string }
    return { code, output: stdout }
  }
}

// The CommonJS project's two compilations start now, beside the ESM project's tests (they never reject).
const cjsBuild = tsc(cjsApp)
const node16Check = tsc(cjsApp, ['--module', 'node16', '--noEmit'])

interface Login {
  status: number
  skey: string
  me: { user: { id: string } }
}

/** Runs one build of the consumer on a prefix of its own, then deletes the keys it wrote, counting them. */
async function consume (t: Test, file: string, dir = app) {
  const { redis, prefix } = testRedis(t, `package-${file}`)
  const { stdout } = await run(process.execPath, [file], { cwd: dir, env: { ...process.env, KEY_PREFIX: prefix, REDIS_URL } })
  const report = JSON.parse(stdout) as { wechat: Login, alipay: Login, replies: string[], logs: string[], secrets: string[], alipayPrivateKey: string }
  return { report, written: await deleteKeys(redis, prefix) }
}

function assertLogins (t: Test, { report, written }: Awaited<ReturnType<typeof consume>>) {
  t.equal(report.wechat.status, 200, 'WeChat login')
  t.match(report.wechat.me.user.id, /oPackageConsumer000000000001$/, 'its skey authenticates')
  t.equal(report.alipay.status, 200, 'Alipay login')
  t.match(report.alipay.me.user.id, /^alipay:/, 'its skey authenticates')
  t.ok(written > 0, `it wrote to the real Redis (${written} keys under its prefix, now deleted)`)
  const logs = new LogCapture()
  logs.lines.push(...report.logs)
  assertNoSecrets(t, {
    secrets: [...report.secrets, ...privateKeyTexts(report.alipayPrivateKey)],
    skeys: [report.wechat.skey, report.alipay.skey],
    logs,
    replies: report.replies
  })
}

tap.test('the tarball: the build, the READMEs and their image, the changelog and the licence; no tests, bench, examples, tools, sources or maps', async (t) => {
  // docs/demo.png: the READMEs' image, by a relative path that GitHub and npm both resolve.
  for (const file of ['LICENSE', 'README.md', 'README.zh-CN.md', 'docs/demo.png', 'CHANGELOG.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/sandbox/index.js', 'dist/client/index.js']) {
    t.ok(files.includes(file), file)
  }
  t.same(files.filter((file) => !/^(dist\/|LICENSE$|README(\.zh-CN)?\.md$|docs\/demo\.png$|CHANGELOG\.md$|package\.json$)/.test(file)), [], 'nothing else outside dist')
  t.same(files.filter((file) => /^dist\/(test|bench|examples|tools)\//.test(file) || file.endsWith('.map') || /(?<!\.d)\.ts$/.test(file)), [], 'no tests, bench, examples, tools, sources or maps')
})

tap.test('the published declarations import only dependencies, peers and Node built-ins', async (t) => {
  const installed = join(app, 'node_modules', PACKAGE)
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, Record<string, string>>
  const declared = new Set([...Object.keys(manifest.dependencies!), ...Object.keys(manifest.peerDependencies!)])
  const imported = new Set(files.filter((file) => file.endsWith('.d.ts')).flatMap((file) => {
    const text = readFileSync(join(installed, file), 'utf8')
    return [...text.matchAll(/(?:from |import\()'([^'.][^']*)'/g)].map(([, specifier]) => specifier!.replace(/^((?:@[^/]+\/)?[^/]+).*$/, '$1'))
  }))
  t.ok(imported.has('fastify'), 'the declarations do import packages (the scan sees them)')
  t.same([...imported].filter((name) => !declared.has(name) && !name.startsWith('node:')), [], [...imported].join(', '))
})

tap.test('fastify and ioredis are the application\'s: one copy of each in the tree', async (t) => {
  const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> }
  const copies = (name: string) => Object.keys(lock.packages).filter((path) => path.endsWith(`node_modules/${name}`))
  t.same(copies('fastify'), ['node_modules/fastify'])
  t.same(copies('ioredis'), ['node_modules/ioredis'])
  t.same(copies('@fastify/redis'), [], 'no @fastify/redis: the app registers it only if it wants it')
})

tap.test('the installed manifest: fastify and ioredis are peers, not dependencies; nothing runs at install; engines', async (t) => {
  type Deps = Record<string, string> | undefined
  const manifest = JSON.parse(readFileSync(join(app, 'node_modules', PACKAGE, 'package.json'), 'utf8')) as {
    dependencies?: Deps, optionalDependencies?: Deps, peerDependencies?: Deps, scripts?: Deps, engines?: Deps
  }
  const has = (deps: Deps, name: string) => Object.hasOwn(deps ?? {}, name)
  for (const name of ['fastify', 'ioredis']) {
    t.ok(has(manifest.peerDependencies, name), `${name} is a peer dependency`)
    t.notOk(has(manifest.dependencies, name) || has(manifest.optionalDependencies, name), `${name} is not a dependency`)
  }
  t.notOk(has(manifest.dependencies, '@fastify/redis') || has(manifest.optionalDependencies, '@fastify/redis'), '@fastify/redis is not a dependency')
  t.same(['preinstall', 'install', 'postinstall', 'prepare'].filter((name) => has(manifest.scripts, name)), [], 'no install-time scripts')
  t.equal(manifest.engines?.node, '^20.19.0 || >=22.12.0', 'engines.node')
})

tap.test('strict TypeScript, module nodenext: compiles as ESM and as CommonJS against the published types', async (t) => {
  const { code, output } = await tsc()
  t.equal(code, 0, output)
  t.match(readFileSync(join(app, 'cjs.cjs'), 'utf8'), /require\("fastify-miniprogram-auth"\)/, 'the CommonJS build requires the package')
})

tap.test('an ESM application logs in on both platforms', async (t) => {
  assertLogins(t, await consume(t, 'esm.js'))
})

tap.test('a CommonJS application (require) logs in on both platforms', async (t) => {
  assertLogins(t, await consume(t, 'cjs.cjs'))
})

tap.test('a CommonJS application on ioredis 5 (no "type", a .ts file, module node20): compiles to require() and logs in on both platforms', async (t) => {
  const { code, output } = await cjsBuild
  t.equal(code, 0, output)
  t.match(JSON.parse(readFileSync(join(cjsApp, 'node_modules/ioredis/package.json'), 'utf8')), { version: /^5\./ }, 'installed beside ioredis 5, without flags')
  const emitted = readFileSync(join(cjsApp, 'app.js'), 'utf8')
  t.match(emitted, /Object\.defineProperty\(exports, "__esModule"/, 'tsc emitted CommonJS')
  t.match(emitted, /require\("fastify-miniprogram-auth"\)/, 'it requires the package')
  t.match(emitted, /require\("fastify-miniprogram-auth\/sandbox"\)/, 'and its sandbox')
  assertLogins(t, await consume(t, 'app.js', cjsApp))
})

tap.test('module node16 refuses the ESM-only package from CommonJS with TS1479, and only that (docs/commonjs.md)', async (t) => {
  const { code, output } = await node16Check
  t.not(code, 0, 'tsc fails')
  const lines = readFileSync(CONSUMER, 'utf8').split('\n')
  const packageImports = lines.flatMap((line, index) => /from 'fastify-miniprogram-auth(\/[a-z]+)?'/.test(line) ? [index + 1] : [])
  t.equal(packageImports.length, 2, 'the consumer imports the package and its sandbox')
  const errors = [...output.matchAll(/^app\.ts\((\d+),\d+\): error (TS\d+)/gm)].map(([, line, error]) => `${line} ${error}`)
  t.same(errors, packageImports.map((line) => `${line} TS1479`), output)
})

tap.test('require() returns the ESM namespace: the plugin is .default (and the named fastifyMiniprogramAuth)', async (t) => {
  const script = `const m = require('${PACKAGE}'); console.log(JSON.stringify([typeof m.default, m.default === m.fastifyMiniprogramAuth, m.__esModule, typeof require('${PACKAGE}/sandbox').createWechatSandbox]))`
  const { stdout } = await run(process.execPath, ['-e', script], { cwd: app })
  t.same(JSON.parse(stdout), ['function', true, true, 'function'])
  // fastify (avvio) takes a namespace's .default: the namespace itself registers too (docs/commonjs.md).
  const register = `const { Redis } = require('ioredis'); const redis = new Redis(${JSON.stringify(REDIS_URL)}); const app = require('fastify')();
app.register(require('${PACKAGE}'), { redis, keyPrefix: 'mpa-test:cjs-namespace:' })
app.ready().then(() => { console.log(typeof app.authenticate); return app.close() }).finally(() => redis.disconnect())`
  const registered = await run(process.execPath, ['-e', register], { cwd: app })
  t.equal(registered.stdout.trim(), 'function', 'fastify.register(require(...)) registers the plugin')
})
