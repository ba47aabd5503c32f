// The demo's platforms: for each, the real one when the environment has its
// credentials, else a local sandbox that knows one demo app.
import { randomBytes } from 'node:crypto'
import type { AlipayAppOptions, BaiduAppOptions, DouyinAppOptions, KuaishouAppOptions, QqAppOptions, WechatAppOptions, WecomAppOptions } from '../../index.js'
import {
  createAlipaySandbox, createBaiduSandbox, createDouyinSandbox, createKuaishouSandbox, createQqSandbox, createWechatSandbox, createWecomSandbox, generateRsaKeyPair,
  type AlipaySandbox, type BaiduSandbox, type DouyinSandbox, type KuaishouSandbox, type QqSandbox, type WechatSandbox, type WecomSandbox
} from '../../sandbox/index.js'

export type Mode = 'sandbox' | 'real'

interface Upstream<App, Sandbox> {
  mode: Mode
  /** The plugin's options for the platform. */
  app: App
  /** In sandbox mode. */
  sandbox?: Sandbox
}

export interface Upstreams {
  wechat: Upstream<WechatAppOptions, WechatSandbox>
  alipay: Upstream<AlipayAppOptions, AlipaySandbox>
  douyin: Upstream<DouyinAppOptions, DouyinSandbox>
  qq: Upstream<QqAppOptions, QqSandbox>
  wecom: Upstream<WecomAppOptions, WecomSandbox>
  kuaishou: Upstream<KuaishouAppOptions, KuaishouSandbox>
  baidu: Upstream<BaiduAppOptions, BaiduSandbox>
}

export type PlatformName = keyof Upstreams

type Env = Record<string, string | undefined>
type AnyUpstream = Upstream<unknown, { close: () => Promise<void> }>

const SANDBOX_ALIPAY_APP_ID = '2021000000000demo'

/**
 * A platform whose apps are an AppID and an AppSecret (WeChat, Douyin, QQ):
 * the real one with `${ENV}_APP_ID` and `${ENV}_APP_SECRET` in the
 * environment, else its sandbox, knowing the demo's app.
 */
async function secretApp<S extends { url: string }> (env: Env, prefix: string, demoApp: { appId: string, appSecret: string }, start: (options: { apps: Record<string, string> }) => Promise<S>) {
  const appId = env[`${prefix}_APP_ID`]
  const appSecret = env[`${prefix}_APP_SECRET`]
  if (appId && appSecret) return { mode: 'real' as const, app: { appId, appSecret } }
  const sandbox = await start({ apps: { [demoApp.appId]: demoApp.appSecret } })
  return { mode: 'sandbox' as const, app: { ...demoApp, baseUrl: sandbox.url }, sandbox }
}

const wechat = (env: Env) => secretApp(env, 'WECHAT', { appId: 'wxd0000000000demo1', appSecret: 'demo-sandbox-secret-0123456789abcdef' }, createWechatSandbox)
const qq = (env: Env) => secretApp(env, 'QQ', { appId: '1112000000', appSecret: 'demo-qq-sandbox-secret-0123456789abcdef' }, createQqSandbox)
const kuaishou = (env: Env) => secretApp(env, 'KUAISHOU', { appId: 'ksd0000000000demo1', appSecret: 'demo-kuaishou-sandbox-secret-0123456789' }, createKuaishouSandbox)
// Baidu's appId is the smart program's App Key.
const baidu = (env: Env) => secretApp(env, 'BAIDU', { appId: 'demoBaiduAppKey000000000000000001', appSecret: 'demo-baidu-sandbox-secret-0123456789' }, createBaiduSandbox)

// The demo lets a user not logged in to Douyin in, as their device (anonymousCode only); the
// phone number comes by code (base library 3.51.0+) when the app has its RSA private key.
async function douyin (env: Env): Promise<Upstreams['douyin']> {
  const upstream = await secretApp(env, 'DOUYIN', { appId: 'ttd0000000000demo1', appSecret: 'demo-douyin-sandbox-secret-0123456789ab' }, createDouyinSandbox)
  if (upstream.mode === 'real') {
    return { ...upstream, app: { ...upstream.app, anonymousLogin: true, ...(env.DOUYIN_PHONE_PRIVATE_KEY ? { phonePrivateKey: env.DOUYIN_PHONE_PRIVATE_KEY } : {}) } }
  }
  const keys = generateRsaKeyPair()
  upstream.sandbox.setPhoneKey(upstream.app.appId, keys.publicKey)
  return { ...upstream, app: { ...upstream.app, anonymousLogin: true, phonePrivateKey: keys.privateKey, openApiBaseUrl: upstream.sandbox.url } }
}

// A WeCom mini-program is its AppID and its corp's: the corpid and the Secret of the WeCom app it is associated with.
async function wecom (env: Env): Promise<Upstreams['wecom']> {
  if (env.WECOM_APP_ID && env.WECOM_CORP_ID && env.WECOM_APP_SECRET) {
    return { mode: 'real', app: { appId: env.WECOM_APP_ID, corpId: env.WECOM_CORP_ID, appSecret: env.WECOM_APP_SECRET } }
  }
  const demoApp = { appId: 'wxd000000000wecom1', corpId: 'wwd0000000000demo1', appSecret: 'demo-wecom-sandbox-secret-0123456789' }
  const sandbox = await createWecomSandbox({ corps: { [demoApp.corpId]: demoApp.appSecret } })
  return { mode: 'sandbox', app: { ...demoApp, baseUrl: sandbox.url }, sandbox }
}

// The AES key (接口内容加密方式) opens my.getPhoneNumber's payloads: without one, the phone route answers 500.
async function alipay (env: Env): Promise<Upstreams['alipay']> {
  if (env.ALIPAY_APP_ID && env.ALIPAY_PRIVATE_KEY && env.ALIPAY_PUBLIC_KEY) {
    return {
      mode: 'real',
      app: {
        appId: env.ALIPAY_APP_ID,
        privateKey: env.ALIPAY_PRIVATE_KEY,
        alipayPublicKey: env.ALIPAY_PUBLIC_KEY,
        ...(env.ALIPAY_GATEWAY ? { gateway: env.ALIPAY_GATEWAY } : {}),
        ...(env.ALIPAY_AES_KEY ? { aesKey: env.ALIPAY_AES_KEY } : {})
      }
    }
  }
  const appKeys = generateRsaKeyPair()
  const aesKey = randomBytes(16).toString('base64')
  const sandbox = await createAlipaySandbox({ apps: [{ appId: SANDBOX_ALIPAY_APP_ID, publicKey: appKeys.publicKey, aesKey }] })
  return {
    mode: 'sandbox',
    app: { appId: SANDBOX_ALIPAY_APP_ID, privateKey: appKeys.privateKey, alipayPublicKey: sandbox.publicKey, gateway: sandbox.url, aesKey },
    sandbox
  }
}

/** Each platform by the name people know, and how it starts; in the order the demo shows them. */
export const PLATFORMS: { [P in PlatformName]: { title: string, start: (env: Env) => Promise<Upstreams[P]> } } = {
  wechat: { title: 'WeChat', start: wechat },
  alipay: { title: 'Alipay', start: alipay },
  douyin: { title: 'Douyin', start: douyin },
  qq: { title: 'QQ', start: qq },
  wecom: { title: 'WeCom', start: wecom },
  kuaishou: { title: 'Kuaishou', start: kuaishou },
  baidu: { title: 'Baidu', start: baidu }
}

const NAMES = Object.keys(PLATFORMS) as PlatformName[]

/** Every platform, real or sandboxed; if one cannot start, the sandboxes already started are closed. */
export async function startUpstreams (env: Env): Promise<Upstreams> {
  const started = await Promise.allSettled(NAMES.map((name) => PLATFORMS[name].start(env)))
  const failure = started.find((result) => result.status === 'rejected')
  const upstreams = started.flatMap((result) => result.status === 'fulfilled' ? [result.value] : [])
  if (failure) {
    await closeAll(upstreams)
    throw failure.reason
  }
  return Object.fromEntries(NAMES.map((name, index) => [name, upstreams[index]])) as unknown as Upstreams
}

export function closeUpstreams (upstreams: Upstreams): Promise<void> {
  return closeAll(Object.values(upstreams))
}

async function closeAll (upstreams: AnyUpstream[]): Promise<void> {
  await Promise.all(upstreams.map(async (upstream) => { await upstream.sandbox?.close() }))
}

/** One field of each platform's upstream, by platform: `pluck(upstreams, 'app')` are the plugin's options. */
export function pluck<K extends keyof AnyUpstream> (upstreams: Upstreams, key: K): { [P in PlatformName]: Upstreams[P][K] } {
  return perPlatform(upstreams, (upstream) => upstream[key]) as { [P in PlatformName]: Upstreams[P][K] }
}

/** `fn` of each platform's upstream, by platform. */
export function perPlatform<T> (upstreams: Upstreams, fn: (upstream: AnyUpstream, name: PlatformName) => T): Record<PlatformName, T> {
  return Object.fromEntries(NAMES.map((name) => [name, fn(upstreams[name], name)])) as Record<PlatformName, T>
}
