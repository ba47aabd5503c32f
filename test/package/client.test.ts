import tap from 'tap'
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { loadInRealm } from '../client/realm.js'
import { WechatWorld } from '../helpers/wechat.js'
import { modulesIn, miniprogramWx } from './miniprogram.js'
import { install, pack, project, sourceCopy, tempDir } from './npm.js'

// The client package as a mini-program project gets it: packed, installed
// from the tarball into an empty project, then loaded the way WeChat's
// 构建 npm output runs, in a realm with nothing but ECMAScript and `wx`.

const PACKAGE = 'fastify-miniprogram-auth-client'
const run = promisify(execFile)

// Built in a copy of the sources, as the package tests all are (test/package/npm.ts).
const source = sourceCopy(tap)
const { tarball, files } = await pack(source, tempDir(tap, 'client-pack'), 'client')

tap.test('the tarball: one module per source file, its declarations beside, the README and the licence, nothing else', async (t) => {
  const modules = files.filter((file) => file.startsWith('dist/miniprogram/')).map((file) => file.slice('dist/miniprogram/'.length))
  const declarations = files.filter((file) => file.startsWith('dist/types/')).map((file) => file.slice('dist/types/'.length))
  t.ok(modules.includes('index.js') && modules.includes('adapters/wechat.js'), 'the entry and the adapters')
  t.ok(modules.every((file) => file.endsWith('.js')), 'only JavaScript in the mini-program folder: WeChat copies all of it')
  t.same(declarations.toSorted(), modules.map((file) => file.replace(/\.js$/, '.d.ts')).toSorted(), 'a declaration file for each module')
  // dist/package.json says CommonJS: the package's own scope is ESM, as its source is.
  t.same(files.filter((file) => !/^dist\/(miniprogram|types)\//.test(file)).toSorted(), ['LICENSE', 'README.md', 'dist/package.json', 'package.json'])
})

tap.test('the size client/README.md states is the size of the mini-program folder', async (t) => {
  const stated = /(\d+) kB of ES2017 JavaScript/.exec(readFileSync(join(source, 'client/README.md'), 'utf8'))
  if (stated === null) return t.fail('the README states no size')
  const bytes = jsBytes(join(source, 'client/dist/miniprogram'))
  const kB = bytes / 1000
  t.ok(Math.abs(kB - Number(stated[1])) <= 2, `${kB.toFixed(1)} kB built, ${stated[1]} kB stated`)
})

/** The bytes of the JavaScript under a folder. */
function jsBytes (dir: string): number {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.js')).reduce((sum, file) => sum + statSync(join(dir, file)).size, 0)
}

tap.test('installed into an empty mini-program project, it brings no other package', async (t) => {
  const dir = project(t, 'miniprogram')
  await install(dir, [tarball])
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> }
  t.same(Object.keys(lock.packages).filter((path) => path !== ''), [`node_modules/${PACKAGE}`], 'one package: zero dependencies')

  const installed = join(dir, 'node_modules', PACKAGE)
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>
  t.equal(manifest.dependencies, undefined)
  // DevTools copies the `miniprogram` folder to miniprogram_npm/<name>/ and
  // `require('<name>')` finds its index.js; Alipay and bundlers take `main`.
  const folder = join(installed, manifest.miniprogram as string)
  t.equal(join(installed, manifest.main as string), join(folder, 'index.js'), 'main and the miniprogram folder name the same file')
  t.ok(readFileSync(join(installed, manifest.types as string), 'utf8').includes('createAuthClient'), 'types beside it')
  // One CommonJS build serves `import` too (Node reads its named exports): no ESM twin to keep in step.
  const imported = await run(process.execPath, ['--input-type=module', '-e', `import { createAuthClient, uniAdapter, taroAdapter, wxStyle } from '${PACKAGE}'; console.log([createAuthClient, uniAdapter, taroAdapter, wxStyle].map((f) => typeof f).join())`], { cwd: dir })
  t.equal(imported.stdout.trim(), 'function,function,function,function', 'an ES module imports it by name')

  const world = await WechatWorld.create(t, 'package-client')
  const app = await world.build()
  await app.listen({ port: 0, host: '127.0.0.1' })
  const baseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

  const client = loadInRealm(modulesIn(folder), { wx: miniprogramWx(world, 'oPackageClient00000000000001') }).exports
  const { skey } = await client.createAuthClient({ baseUrl, platform: 'wechat' }).login()
  const me = await (await fetch(`${baseUrl}/me`, { headers: { 'x-skey': skey } })).json() as { user: { id: string } }
  t.match(me.user.id, /oPackageClient00000000000001$/, 'its login made a live session')
  world.assertNoSecrets(t)
})
