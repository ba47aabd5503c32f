// The simulator page's endpoints (/demo/*): what the phone does in the real
// world (the login calls, user info, the phone number buttons), played by the
// sandboxes. Not part of the API, so not in the docs; loopback only, as they
// hand out login codes for the demo users.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { SignedUserInfo, WechatSandbox } from '../../sandbox/index.js'
import { perPlatform, PLATFORMS, type PlatformName, type Upstreams } from './platforms.js'
import { ALIPAY_USERS, BAIDU_USERS, DOUYIN_USERS, findUser, KUAISHOU_USERS, USERS, WECHAT_USERS, WECOM_USERS, type DemoUser } from './users.js'

/** 127.0.0.0/8 and ::1, IPv4-mapped or not. */
export function isLoopback (address = ''): boolean {
  const ip = address.replace(/^::ffff:/i, '')
  return ip === '::1' || /^127\.\d+\.\d+\.\d+$/.test(ip)
}

const UserKey = Type.Object({ user: Type.String({ maxLength: 32 }) })
const hide = { hide: true }
type UserRequest = { Body: { user: string } }

/** An error Fastify answers with its status code and message: what the person at the page did wrong. */
const refusal = (statusCode: number, message: string) => Object.assign(new Error(message), { statusCode })

/** The demo user `key` of `users`, or a 404 that names it. */
function userOf<T> (users: Array<DemoUser<T>>, key: string): T {
  const user = findUser(users, key)
  if (!user) throw refusal(404, `no sandbox user ${JSON.stringify(key)}`)
  return user
}

/** The name a refusal calls a user by. */
const nameOf = (user: { profile?: { nickName?: unknown } }, key: string) => typeof user.profile?.nickName === 'string' ? user.profile.nickName : key

/**
 * Who ran the platform's login call: user info and phone numbers exist only
 * after it. The sandbox would throw a plain Error (a 500) for what a person
 * can simply do in the wrong order: `after` says what to do instead.
 */
function loginCalls (platform: PlatformName, loginCall: string) {
  const ran = new Set<string>()
  return {
    ran: (openId: string) => { ran.add(openId) },
    after: <U extends { openId?: string, profile?: { nickName?: unknown } }>(user: U, key: string): U & { openId: string } => {
      const { title } = PLATFORMS[platform]
      if (user.openId === undefined) throw refusal(400, `${nameOf(user, key)} is not logged in to ${title}: a device, not a user, with no user info or phone number.`)
      if (!ran.has(user.openId)) throw refusal(409, `Tap ${loginCall} or Log in first: ${title} gives this only once ${nameOf(user, key)} has run ${loginCall}.`)
      return user as U & { openId: string }
    }
  }
}

/** The encrypted user info, and the same in clear for the page to show. */
const userInfoReply = ({ encryptedData, iv, rawData, signature }: SignedUserInfo) => ({ encryptedData, iv, rawData, signature, userInfo: JSON.parse(rawData) })

/** The phone number routes refuse a user without one: say so. */
function withPhone<U extends { phone?: unknown, profile?: { nickName?: unknown } }> (user: U, key: string): U {
  if (!user.phone) throw refusal(400, `${nameOf(user, key)} has no phone number: pick another user to try "Get phone number".`)
  return user
}

/** wx.login or qq.login and the user info of WeChat and QQ (QQ's login is WeChat's, at another host); WeChat's phone number button. */
function codePlatformRoutes (app: FastifyInstance, platform: 'wechat' | 'qq', sandbox: WechatSandbox, loginCall: string) {
  const users = USERS[platform]
  const calls = loginCalls(platform, loginCall)
  app.post<UserRequest>(`/demo/${platform}/code`, { schema: { ...hide, body: UserKey } }, async (request) => {
    const user = userOf(users, request.body.user)
    const code = sandbox.issueCode(user)
    calls.ran(user.openId)
    return { code }
  })
  app.post<UserRequest>(`/demo/${platform}/userinfo`, { schema: { ...hide, body: UserKey } }, async (request) => {
    return userInfoReply(sandbox.userInfo(calls.after(userOf(users, request.body.user), request.body.user).openId))
  })
  return calls
}

/**
 * The /demo/* routes for the platforms in sandbox mode. Register it
 * encapsulated: its loopback-only hook must not reach the other routes.
 */
export async function simulatorRoutes (app: FastifyInstance, upstreams: Upstreams, codeReplayWindow: string): Promise<void> {
  // Anyone who can reach these can log in as the demo users.
  app.addHook('onRequest', async (request) => {
    if (!isLoopback(request.socket.remoteAddress)) {
      throw refusal(403, 'The simulator answers only on the machine that runs the demo (it hands out login codes for the demo users): open the page there.')
    }
  })

  app.get('/demo/config', { schema: hide }, async () => ({
    codeReplayWindow,
    platforms: perPlatform(upstreams, ({ mode, app }, name) => ({
      mode,
      appId: (app as { appId: string }).appId,
      users: mode === 'sandbox' ? USERS[name].map(({ key, label }) => ({ key, label })) : []
    }))
  }))

  const { sandbox: wechat } = upstreams.wechat
  if (wechat) {
    const calls = codePlatformRoutes(app, 'wechat', wechat, 'wx.login')
    app.post<UserRequest>('/demo/wechat/phone-code', { schema: { ...hide, body: UserKey } }, async (request) => {
      const { user: key } = request.body
      return { code: wechat.phoneCode(calls.after(withPhone(userOf(WECHAT_USERS, key), key), key).openId) }
    })
  }

  const { sandbox: qq } = upstreams.qq
  if (qq) codePlatformRoutes(app, 'qq', qq, 'qq.login')

  const { sandbox: alipay } = upstreams.alipay
  if (alipay) {
    const body = Type.Object({ user: Type.String({ maxLength: 32 }), scope: Type.Union([Type.Literal('auth_base'), Type.Literal('auth_user')]) })
    app.post<{ Body: { user: string, scope: 'auth_base' | 'auth_user' } }>('/demo/alipay/auth-code', { schema: { ...hide, body } }, async (request) => {
      return { authCode: alipay.issueAuthCode({ ...userOf(ALIPAY_USERS, request.body.user), scope: request.body.scope }) }
    })
    // my.getPhoneNumber after the user allowed it: signed and encrypted for the app, whatever the account has bound.
    app.post<UserRequest>('/demo/alipay/phone', { schema: { ...hide, body: UserKey } }, async (request) => {
      return { response: alipay.phonePayload(userOf(ALIPAY_USERS, request.body.user)) }
    })
  }

  const { sandbox: douyin } = upstreams.douyin
  if (douyin) {
    const calls = loginCalls('douyin', 'tt.login')
    // tt.login with force shows a logged-out user Douyin's login dialog; the demo's guest declines it, and gets only the anonymousCode.
    app.post<UserRequest>('/demo/douyin/login', { schema: { ...hide, body: UserKey } }, async (request) => {
      const user = userOf(DOUYIN_USERS, request.body.user)
      const codes = douyin.login(user)
      if (user.openId !== undefined) calls.ran(user.openId)
      return { ...codes, isLogin: user.openId !== undefined }
    })
    app.post<UserRequest>('/demo/douyin/userinfo', { schema: { ...hide, body: UserKey } }, async (request) => {
      return userInfoReply(douyin.userInfo(calls.after(userOf(DOUYIN_USERS, request.body.user), request.body.user).openId))
    })
    // The getPhoneNumber button of base library 3.51.0+: a code the server exchanges.
    app.post<UserRequest>('/demo/douyin/phone', { schema: { ...hide, body: UserKey } }, async (request) => {
      const { user: key } = request.body
      return { code: douyin.phoneCode(calls.after(withPhone(userOf(DOUYIN_USERS, key), key), key).openId) }
    })
  }

  const { sandbox: wecom } = upstreams.wecom
  if (wecom) {
    // wx.qy.login inside WeCom: a code for the corp member.
    app.post<UserRequest>('/demo/wecom/code', { schema: { ...hide, body: UserKey } }, async (request) => wecom.login(userOf(WECOM_USERS, request.body.user)))
  }

  for (const [platform, sandbox, users, loginCall] of [
    ['kuaishou', upstreams.kuaishou.sandbox, KUAISHOU_USERS, 'ks.login'],
    ['baidu', upstreams.baidu.sandbox, BAIDU_USERS, 'swan.getLoginCode']
  ] as const) {
    if (!sandbox) continue
    const calls = loginCalls(platform, loginCall)
    app.post<UserRequest>(`/demo/${platform}/code`, { schema: { ...hide, body: UserKey } }, async (request) => {
      const user = userOf<{ openId: string }>(users, request.body.user)
      calls.ran(user.openId)
      return sandbox.login(user)
    })
    app.post<UserRequest>(`/demo/${platform}/userinfo`, { schema: { ...hide, body: UserKey } }, async (request) => {
      const { encryptedData, iv, userInfo } = sandbox.userInfo(calls.after(userOf<{ openId: string }>(users, request.body.user), request.body.user).openId)
      return { encryptedData, iv, userInfo }
    })
    app.post<UserRequest>(`/demo/${platform}/phone`, { schema: { ...hide, body: UserKey } }, async (request) => {
      const { user: key } = request.body
      return sandbox.phoneData(calls.after(withPhone(userOf<{ openId: string, phone?: unknown }>(users, key), key), key).openId)
    })
  }
}
