import type { AlipayPhoneOptions, AlipaySandboxUser, DouyinSandboxUser, WechatSandboxUser } from '../../sandbox/index.js'
import type { Platform } from '../../client/index.js'
import { Device, fakeMy, fakeTt, fakeWx, wxShaped } from './fakes.js'
import type { clientWorld, CustomPlatform } from './world.js'

// Phones of each built-in platform, their login calls handing out the codes
// of a world's sandboxes (or of the app's own providers), as the tests read them.

interface PlatformCase {
  platform: Platform
  /** The platform object's free variable. */
  global: string
  /** A fake of the platform object, its login call handing out the sandbox's (or the app's own provider's) codes. */
  fake: () => { api: unknown, device: Device, state: { logins: number } }
}

export const alice: WechatSandboxUser = { openId: 'oClientAlice000000000000001' }
export const dora: DouyinSandboxUser = { anonymousOpenId: 'aClientDoraDevice0000000001', openId: 'dClientDora0000000000000001', phone: '13900139000', profile: { nickName: 'Dora 抖音' } }

export function phones ({ wechatSandbox, alipaySandbox, douyinSandbox, qqSandbox, issuers }: Awaited<ReturnType<typeof clientWorld>>) {
  /** A phone with `wx` (or `qq`: the same shapes) for a user of that sandbox, as the tests below read it. */
  function wechatPhone (user: WechatSandboxUser, sandbox: { issueCode: (user: WechatSandboxUser) => string } = wechatSandbox) {
    const fake = fakeWx(() => sandbox.issueCode(user))
    return { ...fake, storage: fake.device.storage, sent: fake.device.sent }
  }

  /** A phone with `tt`: tt.login gives what the sandbox's does (no code for a user not logged in to Douyin). */
  function douyinPhone (user: DouyinSandboxUser) {
    const fake = fakeTt(() => douyinSandbox.login(user))
    return { ...fake, storage: fake.device.storage, sent: fake.device.sent }
  }

  /** A phone with `my`; my.getPhoneNumber gives the sandbox's payload made with `state.phone`. */
  function alipayPhone (user: AlipaySandboxUser) {
    const fake = fakeMy((scope) => alipaySandbox.issueAuthCode({ ...user, scope }), () => alipaySandbox.phonePayload(user, state.phone))
    const phone: AlipayPhoneOptions = {}
    const state = Object.assign(fake.state, { phone })
    return { ...fake, my: fake.api, state, storage: fake.device.storage, sent: fake.device.sent }
  }

  /** A phone of a platform the app's own provider serves: its login call hands out that provider's codes. */
  function customPhone (platform: CustomPlatform, openId: string) {
    const device = new Device()
    const state = { logins: 0 }
    const issue = <T>(result: (code: string) => T) => ({ success }: { success: (result: T) => void }) => {
      state.logins++
      setImmediate(() => success(result(issuers[platform].issue(openId))))
    }
    const wx = wxShaped(device)
    const api = {
      kuaishou: { ...wx, login: issue((code) => ({ code })) },
      baidu: { ...wx, getLoginCode: issue((code) => ({ code })) },
      // WeCom's wx: wx.login still gives a WeChat code, which the WeCom route would refuse.
      wecom: { ...wx, login: issue(() => ({ code: 'a-wechat-code' })), qy: { login: issue((code) => ({ code })) } },
      // Feishu's tt: tt.login gives a code.
      lark: { ...wx, login: issue((code) => ({ code })) }
    }[platform]
    return { api, device, state, storage: device.storage, sent: device.sent }
  }

  /** Every built-in platform, in a realm of its own. */
  const PLATFORM_CASES: PlatformCase[] = [
    { platform: 'wechat', global: 'wx', fake: () => wechatPhone(alice) },
    { platform: 'alipay', global: 'my', fake: () => alipayPhone({ openId: '074a1d3d0000000000000000vmvm' }) },
    { platform: 'douyin', global: 'tt', fake: () => douyinPhone(dora) },
    { platform: 'qq', global: 'qq', fake: () => wechatPhone({ openId: 'QQClientQuinn00000000000000000001' }, qqSandbox) },
    { platform: 'kuaishou', global: 'ks', fake: () => customPhone('kuaishou', 'ksClientKai01') },
    { platform: 'baidu', global: 'swan', fake: () => customPhone('baidu', 'swanClientBai01') },
    { platform: 'wecom', global: 'wx', fake: () => customPhone('wecom', 'wwClientWei01') }
  ]

  return { wechatPhone, douyinPhone, alipayPhone, customPhone, PLATFORM_CASES }
}
