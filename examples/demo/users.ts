import type { AlipaySandboxUser, BaiduSandboxUser, DouyinSandboxUser, KuaishouSandboxUser, WechatSandboxUser, WecomSandboxUser } from '../../sandbox/index.js'
import type { PlatformName } from './platforms.js'

// The people the simulator page can log in as. Their ids are fixed, so logging
// in again is the same user with a new session (a second device).

export interface DemoUser<T> {
  key: string
  label: string
  user: T
}

export const WECHAT_USERS: Array<DemoUser<WechatSandboxUser>> = [
  {
    key: 'alice',
    label: 'Alice 李 (unionid, +86 phone)',
    user: {
      openId: 'oDemoAl1ce0000000000000000001',
      unionId: 'uDemoAl1ce000000000000000001',
      phone: '13800138000',
      profile: { nickName: 'Alice 李', gender: 2, city: 'Shenzhen', province: 'Guangdong', country: 'China' }
    }
  },
  {
    key: 'panda',
    label: '🐼 熊猫 (emoji nickname, +852 phone)',
    user: {
      openId: 'oDemoPanda000000000000000002',
      phone: { purePhoneNumber: '91234567', countryCode: '852' },
      profile: { nickName: '🐼 熊猫 Panda ✨', gender: 0, city: 'Hong Kong', country: 'China' }
    }
  },
  {
    key: 'bob',
    label: 'Bob (no unionid, no phone)',
    user: { openId: 'oDemoB0b00000000000000000003', profile: { nickName: 'Bob', gender: 1 } }
  }
]

export const ALIPAY_USERS: Array<DemoUser<AlipaySandboxUser>> = [
  {
    key: 'alice',
    label: 'Alice 支付宝 (phone)',
    user: { openId: '074a1d3d0000000000000000000demo1', mobile: '13700137000', profile: { nickName: 'Alice 支付宝', gender: 'F', province: '浙江省', city: '杭州市' } }
  },
  {
    key: 'panda',
    label: '🐼 熊猫 (emoji nickname, no phone bound)',
    user: { openId: '074a1d3d0000000000000000000demo2', mobile: '', profile: { nickName: '🐼 熊猫 Panda 🎋', city: '成都市' } }
  }
]

export const DOUYIN_USERS: Array<DemoUser<DouyinSandboxUser>> = [
  {
    key: 'dora',
    label: 'Dora 抖音 (logged in to Douyin, phone)',
    user: {
      anonymousOpenId: 'aDemoDoraDevice00000000001',
      openId: 'dDemoDora000000000000000001',
      phone: '13900139000',
      profile: { nickName: 'Dora 抖音', gender: 2, city: 'Beijing', country: 'China' }
    }
  },
  {
    key: 'panda',
    label: '🐼 熊猫 (emoji nickname, no phone)',
    user: { anonymousOpenId: 'aDemoPandaDevice0000000002', openId: 'dDemoPanda00000000000000002', profile: { nickName: '🐼 熊猫 Panda 🎵' } }
  },
  {
    key: 'guest',
    label: 'Guest (not logged in to Douyin: anonymous)',
    user: { anonymousOpenId: 'aDemoGuestDevice0000000003' }
  }
]

// QQ's login is WeChat's protocol: the same user shape.
const QQ_USERS: Array<DemoUser<WechatSandboxUser>> = [
  {
    key: 'quinn',
    label: 'Quinn QQ',
    user: { openId: 'QQDemoQuinn000000000000000000001', profile: { nickName: 'Quinn QQ', gender: 1, city: 'Shenzhen', country: 'China' } }
  },
  {
    key: 'panda',
    label: '🐼 熊猫 (emoji nickname)',
    user: { openId: 'QQDemoPanda000000000000000000002', profile: { nickName: '🐼 熊猫 Panda 🐧' } }
  }
]

// A WeCom user is a member of the demo's corp.
export const WECOM_USERS: Array<DemoUser<WecomSandboxUser>> = [
  { key: 'zhang', label: '张三 (corp member)', user: { corpId: 'wwd0000000000demo1', userId: 'ZhangSan' } },
  { key: 'li', label: '李四 (corp member)', user: { corpId: 'wwd0000000000demo1', userId: 'LiSi' } }
]

export const KUAISHOU_USERS: Array<DemoUser<KuaishouSandboxUser>> = [
  { key: 'kai', label: 'Kai 快手 (phone)', user: { openId: 'kDemoKai00000000000000000001', phone: '13600136000', profile: { nickName: 'Kai 快手', gender: 1, city: 'Beijing' } } },
  { key: 'panda', label: '🐼 熊猫 (emoji nickname, no phone)', user: { openId: 'kDemoPanda000000000000000002', profile: { nickName: '🐼 熊猫 Panda 📹' } } }
]

export const BAIDU_USERS: Array<DemoUser<BaiduSandboxUser>> = [
  { key: 'bai', label: 'Bai 百度 (phone)', user: { openId: 'bDemoBai00000000000000000001', phone: '13500135000', nickname: 'Bai 百度' } },
  { key: 'panda', label: '🐼 熊猫 (emoji nickname, no phone)', user: { openId: 'bDemoPanda000000000000000002', nickname: '🐼 熊猫 Panda 🐾' } }
]

/** The users of each platform's sandbox. */
export const USERS = { wechat: WECHAT_USERS, alipay: ALIPAY_USERS, douyin: DOUYIN_USERS, qq: QQ_USERS, wecom: WECOM_USERS, kuaishou: KUAISHOU_USERS, baidu: BAIDU_USERS } satisfies { [P in PlatformName]: Array<DemoUser<unknown>> }

export function findUser<T> (users: Array<DemoUser<T>>, key: string): T | undefined {
  return users.find((entry) => entry.key === key)?.user
}
