import tap from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import { installedVersion, npm, pack, project, sourceCopy, tempDir } from './npm.js'

// The packed client's types against the platforms' and frameworks' official
// typings, as a mini-program project in TypeScript has them: `wx` from
// miniprogram-api-typings, `my` from @mini-types/alipay, `tt` from
// @douyin-microapp/typings, `uni` from @dcloudio/types, Taro from
// @tarojs/taro. Each compiles alone (their globals clash), strict, and each
// has a line that must not compile, so the typings are known to be in force.

// The compilations load each typing package whole: a minute on a busy 2-core machine.
tap.setTimeout(300_000)

const TYPINGS = ['miniprogram-api-typings', '@mini-types/alipay', '@douyin-microapp/typings', '@dcloudio/types']
// Taro's types, without its build tools (its peers bring native addons, and the types need none of them).
const TARO = '@tarojs/taro@4.2.1'

const { tarball } = await pack(sourceCopy(tap), tempDir(tap, 'client-pack'), 'client')
const dir = project(tap, 'typed-miniprogram')
await npm(dir, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--legacy-peer-deps', tarball, TARO, ...TYPINGS.map((name) => `${name}@${installedVersion(name)}`)])

interface Case {
  name: string
  /** The typing package whose globals the file sees (none: it imports them). */
  types: string[]
  module: 'commonjs' | 'node16' | 'esnext'
  code: string
}

const HEAD = "import { createAuthClient, taroAdapter, uniAdapter } from 'fastify-miniprogram-auth-client'\nconst baseUrl = 'https://api.example.com'\n"

const CASES: Case[] = [
  {
    name: 'wx (miniprogram-api-typings), CommonJS as the WeChat TypeScript template',
    types: ['miniprogram-api-typings'],
    module: 'commonjs',
    code: `export const auth = createAuthClient({ baseUrl, platform: 'wechat', api: wx })
export const qq = createAuthClient({ baseUrl, platform: 'qq', api: wx })
// Scan login and web-view URLs, from what WeChat hands a page and the app.
export const fromLaunch: string | null = auth.scanTicket(wx.getLaunchOptionsSync())
Page({
  async onLoad (query) {
    const ticket = auth.scanTicket(query)
    if (ticket !== null && (await auth.scanned(ticket)).requester.device !== undefined) await auth.confirm(ticket)
    this.setData({ url: await auth.webviewUrl('/orders') })
  }
})
App({ onShow (options) { auth.scanTicket(options) } })
// @ts-expect-error wx is no my: it has no getAuthCode
createAuthClient({ baseUrl, platform: 'alipay', api: wx })
`
  },
  {
    name: 'wx (miniprogram-api-typings), module node16',
    types: ['miniprogram-api-typings'],
    module: 'node16',
    code: `export const auth = createAuthClient({ baseUrl, platform: 'wechat', api: wx })
// @ts-expect-error wx is no my: it has no getAuthCode
createAuthClient({ baseUrl, platform: 'alipay', api: wx })
`
  },
  {
    name: 'my (@mini-types/alipay)',
    types: ['@mini-types/alipay'],
    module: 'commonjs',
    code: `export const auth = createAuthClient({ baseUrl, platform: 'alipay', api: my, scope: 'auth_user' })
// @ts-expect-error my is no wx: its storage calls take objects
createAuthClient({ baseUrl, platform: 'wechat', api: my })
`
  },
  {
    name: 'tt (@douyin-microapp/typings)',
    types: ['@douyin-microapp/typings'],
    module: 'commonjs',
    code: `export const auth = createAuthClient({ baseUrl, platform: 'douyin', api: tt, force: false })
// @ts-expect-error tt is no wx: tt.request takes no string as data
createAuthClient({ baseUrl, platform: 'wechat', api: tt })
`
  },
  {
    name: 'uni (@dcloudio/types), through a bundler',
    types: ['@dcloudio/types'],
    module: 'esnext',
    code: `export const auth = createAuthClient({ baseUrl, platform: uniAdapter(uni) })
// @ts-expect-error uni is no WeCom wx: it has no qy
createAuthClient({ baseUrl, platform: 'wecom', api: uni })
`
  },
  {
    name: 'Taro (@tarojs/taro), through a bundler',
    types: [],
    module: 'esnext',
    code: `import Taro from '@tarojs/taro'
export const auth = createAuthClient({ baseUrl, platform: taroAdapter(Taro) })
// @ts-expect-error Taro is typed: getEnv gives a string
export const env: number = Taro.getEnv()
`
  }
]

for (const { name, types, module, code } of CASES) {
  tap.test(`createAuthClient type-checks with ${name}`, async (t) => {
    const file = join(dir, `${name.replace(/\W+/g, '-')}.ts`)
    writeFileSync(file, HEAD + code)
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2017,
      lib: ['lib.es2017.d.ts'],
      types,
      // The typing packages' own declarations are theirs to check.
      skipLibCheck: true,
      ...{
        commonjs: { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10 },
        node16: { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 },
        esnext: { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, esModuleInterop: true }
      }[module]
    })
    const diagnostics = [...program.getGlobalDiagnostics(), ...program.getSemanticDiagnostics(program.getSourceFile(file))]
    t.same(diagnostics.map((d) => `${d.start === undefined ? '' : program.getSourceFile(file)!.getLineAndCharacterOfPosition(d.start).line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`), [], 'no errors, and each @ts-expect-error met its error')
  })
}
