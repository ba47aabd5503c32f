import tap from 'tap'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createContext, runInContext } from 'node:vm'
import type { WxApi } from '../../client/index.js'
import { WechatWorld } from '../helpers/wechat.js'
import { install, pack, project, sourceCopy, tempDir } from './npm.js'

// The client package as a mini-program project gets it: packed, installed
// from the tarball into an empty project, then loaded the way WeChat's
// 构建 npm output runs, in a realm with nothing but ECMAScript and `wx`.

const PACKAGE = 'fastify-miniprogram-auth-client'
const run = promisify(execFile)

const { tarball, files } = await pack(sourceCopy(tap), tempDir(tap, 'client-pack'), 'client')

tap.test('the tarball holds the build, its types, the README and the licence, nothing else', async (t) => {
  // dist/package.json says CommonJS: the package's own scope is ESM, as its source is.
  t.same(files.toSorted(), ['LICENSE', 'README.md', 'dist/index.d.ts', 'dist/index.js', 'dist/package.json', 'package.json'])
})

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
  const entry = join(installed, manifest.miniprogram as string, 'index.js')
  t.equal(join(installed, manifest.main as string), entry, 'main and the miniprogram folder name the same file')
  t.ok(readFileSync(join(installed, manifest.types as string), 'utf8').includes('createAuthClient'), 'types beside it')
  // One CommonJS build serves `import` too (Node reads its named exports): no ESM twin to keep in step.
  const imported = await run(process.execPath, ['--input-type=module', '-e', `import { createAuthClient } from '${PACKAGE}'; console.log(typeof createAuthClient)`], { cwd: dir })
  t.equal(imported.stdout.trim(), 'function', 'an ES module imports it by name')

  const world = await WechatWorld.create(t, 'package-client')
  const app = await world.build()
  await app.listen({ port: 0, host: '127.0.0.1' })
  const baseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

  const client = requireInMiniprogram(readFileSync(entry, 'utf8'), miniprogramWx(world, 'oPackageClient00000000000001'))
  const { skey } = await client.createAuthClient({ baseUrl, platform: 'wechat' }).login()
  const me = await (await fetch(`${baseUrl}/me`, { headers: { 'x-skey': skey } })).json() as { user: { id: string } }
  t.match(me.user.id, /oPackageClient00000000000001$/, 'its login made a live session')
  world.assertNoSecrets(t)
})

/** A `wx` for one user: wx.login in the sandbox, wx.request over real HTTP, storage in memory. */
function miniprogramWx (world: WechatWorld, openId: string): WxApi {
  const storage = new Map<string, string>()
  return {
    login: ({ success }) => { success?.({ code: world.sandbox.issueCode({ openId }) }) },
    request: ({ url, method, data, header, success, fail }) => {
      void fetch(url, { method, headers: header, body: typeof data === 'string' ? data : undefined })
        .then(async (response) => success?.({ statusCode: response.status, header: Object.fromEntries(response.headers), data: await response.json() }), fail)
    },
    getStorageSync: (key) => storage.get(key) ?? '',
    setStorageSync: (key, data) => { storage.set(key, data) },
    removeStorageSync: (key) => { storage.delete(key) }
  }
}

/** CommonJS as a mini-program runs it: module, exports and `wx` as the only free variables, no `require`, no Node globals. */
function requireInMiniprogram (code: string, wx: WxApi): typeof import('../../client/index.js') {
  const context = createContext({})
  const run = runInContext(`(function (module, exports, wx) {${code}\n})`, context) as (...args: unknown[]) => void
  const module = runInContext('({ exports: {} })', context) as { exports: typeof import('../../client/index.js') }
  run(module, module.exports, wx)
  return module.exports
}
