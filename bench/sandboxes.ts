// The platforms' sandboxes for npm run bench:logins, in a process of their own
// (their CPU is not the server's):
//   node --import tsx bench/sandboxes.ts
// Sends { type: 'result', result: { wechat, alipay } } (the plugin's options
// for each) once they listen; then answers each { type: 'codes', platform,
// count } with { type: 'result', result: string[] }: that many fresh login
// codes, each for a user of its own. Stops on SIGTERM or when the parent goes.
import { randomBytes } from 'node:crypto'
import { createAlipaySandbox, createWechatSandbox, generateRsaKeyPair } from '../sandbox/index.js'

export type LoginPlatform = 'wechat' | 'alipay'

const wechatApp = { appId: 'wxbench0000000001', appSecret: 'bench-sandbox-secret-0123456789abcdef' }
const wechat = await createWechatSandbox({ apps: { [wechatApp.appId]: wechatApp.appSecret } })
const appKeys = generateRsaKeyPair()
const aesKey = randomBytes(16).toString('base64')
const alipayAppId = '2021000000000bench'
const alipay = await createAlipaySandbox({ apps: [{ appId: alipayAppId, publicKey: appKeys.publicKey, aesKey }] })

let issued = 0
process.on('message', (message: { type?: string, platform?: LoginPlatform, count?: number }) => {
  if (message.type !== 'codes') return
  const codes: string[] = []
  for (let i = 0; i < (message.count ?? 0); i++) {
    const n = issued++
    codes.push(message.platform === 'alipay'
      ? alipay.issueAuthCode({ userId: `2088${String(n).padStart(12, '0')}` }, alipayAppId)
      : wechat.issueCode({ openId: `obench${n}` }, wechatApp.appId))
  }
  process.send?.({ type: 'result', result: codes })
})

async function stop () {
  await Promise.all([wechat.close(), alipay.close()])
  process.exit(0)
}
for (const event of ['SIGTERM', 'SIGINT', 'disconnect']) process.on(event, () => { void stop() })
process.send?.({
  type: 'result',
  result: {
    wechat: { ...wechatApp, baseUrl: wechat.url },
    alipay: { appId: alipayAppId, privateKey: appKeys.privateKey, alipayPublicKey: alipay.publicKey, gateway: alipay.url, aesKey }
  }
})
