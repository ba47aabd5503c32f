import tap from 'tap'
import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { loadInRealm } from '../client/realm.js'
import { readmeSnippets } from '../helpers/readme-snippets.js'
import { WechatWorld } from '../helpers/wechat.js'
import { miniprogramWx, modulesIn } from './miniprogram.js'
import { install, pack, project, ROOT, sourceCopy, tempDir } from './npm.js'

// WeChat's 构建 npm, as the DevTools' own module runs it (miniprogram-ci's
// packNpm), on a scratch mini-program project that depends on the packed
// client package; then the built miniprogram_npm folder, loaded as WeChat
// loads it, logs in against a live server. miniprogram-ci is installed here,
// into a folder of its own: it brings native addons (swc, @parcel/watcher),
// which the repository's node_modules may not hold.

const PACKAGE = 'fastify-miniprogram-auth-client'
const MINIPROGRAM_CI = 'miniprogram-ci@2.1.42'
const run = promisify(execFile)

// miniprogram-ci and its dependencies are some 270 MB: a minute to install on a cold cache.
tap.setTimeout(600_000)

const ci = project(tap, 'miniprogram-ci')
const weapp = project(tap, 'weapp')
const { tarball } = await pack(sourceCopy(tap), tempDir(tap, 'client-pack'), 'client')
await Promise.all([install(ci, [MINIPROGRAM_CI]), install(weapp, [tarball])])

// The project as WeChat's DevTools create it, its app.js using the package.
writeFileSync(join(weapp, 'project.config.json'), JSON.stringify({ appid: 'wx0000000000000000', compileType: 'miniprogram', miniprogramRoot: '', setting: { es6: true } }))
writeFileSync(join(weapp, 'app.json'), JSON.stringify({ pages: ['pages/index/index'] }))
writeFileSync(join(weapp, 'app.js'), `const { createAuthClient } = require('${PACKAGE}')\nApp({ auth: createAuthClient({ baseUrl: 'https://api.example.com', platform: 'wechat' }) })\n`)
mkdirSync(join(weapp, 'pages/index'), { recursive: true })
writeFileSync(join(weapp, 'pages/index/index.js'), 'Page({})\n')
writeFileSync(join(weapp, 'pages/index/index.wxml'), '<view />\n')
// packNpm needs no upload key, but the project wants a path to one.
const key = join(tempDir(tap, 'key'), 'private.key')
writeFileSync(key, 'not used by packNpm')
writeFileSync(join(ci, 'pack.cjs'), `
const ci = require('miniprogram-ci')
const [projectPath, privateKeyPath] = process.argv.slice(2)
const project = new ci.Project({ appid: 'wx0000000000000000', type: 'miniProgram', projectPath, privateKeyPath, ignores: ['node_modules/**/*'] })
ci.packNpm(project, { reporter: () => {} }).then((warnings) => console.log(JSON.stringify(warnings)), (err) => { console.error(err); process.exit(1) })
`)

tap.test('WeChat\'s npm build takes the packed client: JavaScript only, no warnings', async (t) => {
  const { stdout } = await run(process.execPath, ['pack.cjs', weapp, key], { cwd: ci, maxBuffer: 16 * 1024 * 1024 })
  const warnings = JSON.parse(stdout.slice(stdout.lastIndexOf('\n[') + 1)) as unknown[]
  t.same(warnings, [], 'packNpm warns of nothing (no unresolved require, no require of a variable)')
  const built = join(weapp, 'miniprogram_npm', PACKAGE)
  const files = readdirSync(built, { recursive: true, encoding: 'utf8' }).filter((file) => !file.endsWith('/') && file.includes('.'))
  t.same(files.filter((file) => !file.endsWith('.js')), [], 'only the modules: no declarations in the mini-program package')
  t.ok(files.includes('index.js') && files.includes('adapters/wechat.js'))

  const world = await WechatWorld.create(t, 'package-weapp')
  const app = await world.build()
  await app.listen({ port: 0, host: '127.0.0.1' })
  const baseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const { exports, leaked } = loadInRealm(modulesIn(built), { wx: miniprogramWx(world, 'oPackageWeapp000000000000001') })
  t.same(leaked, [])
  const client = exports.createAuthClient({ baseUrl, platform: 'wechat' })
  await client.login()
  t.match(await client.request({ url: '/me' }), { user: { id: /oPackageWeapp000000000000001$/ } }, 'the built package logs in')
  world.assertNoSecrets(t)
})

tap.test('the READMEs\' mini-program snippets import the client package, never the server\'s', async (t) => {
  for (const readme of ['README.md', 'README.zh-CN.md']) {
    const snippets = readmeSnippets(join(ROOT, readme)).filter(({ code }) => code.includes('createAuthClient'))
    t.ok(snippets.length > 0, `${readme} has a mini-program snippet`)
    for (const { code, line } of snippets) {
      t.match(code, `from '${PACKAGE}'`, `${readme}:${line} imports ${PACKAGE}`)
      t.notMatch(code, /fastify-miniprogram-auth\/client/, `${readme}:${line} does not import the server package's client`)
    }
  }
})
