import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Locator, type Page } from 'playwright-core'
import { CHROMIUM, CHROMIUM_ARGS, chromiumTest } from '../helpers/chromium.js'
import { startDemo, type PlatformName } from '../../examples/demo/app.js'
import { REDIS_URL, testRedis } from '../helpers/redis.js'

// The simulator page in a real headless Chromium (Debian's package: the
// Playwright download host is out of reach). Set DEMO_SCREENSHOT=docs/demo.png
// to refresh the README's picture.

// Wide enough for two clicks in Chromium on a loaded 2-core CI machine; both
// phones wait it out together, once.
const REPLAY_WINDOW_MS = 5000

chromiumTest('the simulator page, every platform, in Chromium', async (t) => {
  const { prefix: keyPrefix } = testRedis(t, 'e2e')
  const demo = await startDemo({ port: 0, keyPrefix, redis: { url: REDIS_URL }, codeReplayWindow: `${REPLAY_WINDOW_MS}ms` })
  const userDataDir = mkdtempSync(join(tmpdir(), 'mpa-e2e-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    // Wide enough for the phones side by side.
    executablePath: CHROMIUM, args: CHROMIUM_ARGS, viewport: { width: 1720, height: 1000 }
  })
  t.teardown(async () => {
    await context.close()
    rmSync(userDataDir, { recursive: true, force: true })
    await demo.close()
  })

  const page = await context.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', (err) => pageErrors.push(err.message))
  await page.goto(`${demo.url}/`)
  await page.waitForSelector('body[data-ready="true"]')

  const wechat = phone(page, 'wechat')
  const alipay = phone(page, 'alipay')
  const douyin = phone(page, 'douyin')
  const qq = phone(page, 'qq')
  const wecom = phone(page, 'wecom')
  const kuaishou = phone(page, 'kuaishou')
  const baidu = phone(page, 'baidu')
  const phones = [['WeChat', wechat], ['Alipay', alipay], ['Douyin', douyin], ['QQ', qq], ['WeCom', wecom], ['Kuaishou', kuaishou], ['Baidu', baidu]] as const
  await t.test('every phone starts logged out', async (t) => {
    for (const [name, panel] of phones) t.equal(await panel.status(), 'Not logged in', name)
  })

  await t.test('WeChat: a step out of order says what to do', async (t) => {
    await wechat.pickUser('bob')
    t.match(await wechat.run('userinfo'), /^getUserInfo:fail Tap wx\.login or Log in first: WeChat gives this only once Bob has run wx\.login\.$/)
    t.match(await wechat.run('phone'), /^getPhoneNumber:fail Bob has no phone number: pick another user/)
    await wechat.pickUser('alice')
  })

  await t.test('WeChat: code, login, protected calls, user info, phone number', async (t) => {
    const code = await wechat.run('code')
    t.match(code, /"code": "[A-Za-z0-9+/]{32}"/, 'wx.login gave a code')
    t.match(await wechat.run('login'), /"skey": "[A-Za-z0-9_-]{6}…"/, 'the login reply, skey shortened')
    t.match(await wechat.status(), /^Logged in as wechat:wxd0000000000demo1:oDemoAl1ce\S+ · skey [A-Za-z0-9_-]{6}…$/)
    t.match(await wechat.run('profile'), /"provider": "wechat"/)
    t.match(await wechat.run('order'), /"item": "☕ Flat white"/)
    t.match(await wechat.run('profile'), /"orders": 1/, 'the order belongs to this user')
    t.match(await wechat.run('userinfo'), /"nickName": "Alice 李"/, 'decrypted and verified on the server')
    t.match(await wechat.status(), /^Logged in as Alice 李 · skey /, 'the status line names her by the nickname she gave')
    t.match(await wechat.run('phone'), /"phoneNumber": "13800138000"/)
    await wechat.pickUser('panda')
    t.equal(await wechat.status(), 'Not logged in', 'another user: the stored skey is forgotten')
    await wechat.run('login')
    t.match(await wechat.run('userinfo'), /"nickName": "🐼 熊猫 Panda ✨"/, 'an emoji nickname survives the round trip')
    t.match(await wechat.run('phone'), /"phoneNumber": "\+85291234567"/)
  })

  await t.test('WeChat scan login: the PC pane\'s code scanned and confirmed on the phone, the PC logged in by its own cookie session', async (t) => {
    const pc = page.locator('#pc')
    const pcStatus = pc.getByTestId('pc-status')
    const until = (text: RegExp) => pcStatus.filter({ hasText: text }).waitFor()
    t.equal(await pcStatus.innerText(), 'Not logged in')
    t.match(await wechat.run('scanPc'), /^No code on the PC/, 'nothing to scan yet')
    await pc.getByTestId('pc-login').click()
    await until(/^Waiting for the phone/)
    // The phone reads the code off the PC's picture, as WeChat's scanner would.
    t.match(await wechat.run('scanPc'), /"asks": "a browser on .+ at 127\.0\.0\.1"/)
    await until(/^Scanned: confirm on the phone$/)
    t.match(await wechat.run('confirmPc'), /"state": "confirmed"/)
    await until(/^Logged in as /)
    t.match(await pcStatus.innerText(), /^Logged in as wechat:wxd0000000000demo1:oDemoPanda\S* \(wechat-scan, this browser's own session\)$/, 'the phone\'s user, in a browser session of its own kind')
    const cookie = (await page.context().cookies()).find(({ name }) => name === 'mpa_session')
    t.ok(cookie?.httpOnly, 'an HttpOnly cookie')
    t.equal(await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie.includes('mpa_session')), false, 'the page cannot read it')
    t.notOk((await wechat.log()).some((entry) => entry.includes(cookie!.value.slice(0, 6) + '…')), 'a session of its own: not the phone\'s skey')
    t.match(await wechat.run('confirmPc'), /^409 MPA_TICKET_STATE/, 'confirmed once')
    await pc.getByTestId('pc-logout').click()
    await until(/^Not logged in$/)
    // Again, refused this time.
    await pc.getByTestId('pc-login').click()
    await until(/^Waiting for the phone/)
    await wechat.run('scanPc')
    t.match(await wechat.run('refusePc'), /"state": "refused"/)
    await until(/^Refused on the phone$/)
    t.match((await pc.getByTestId('pc-log').locator('li').allInnerTexts()).join('\n'), /event: refused/)
  })

  await t.test('Alipay: the phone number; auth_user login with the profile, protected calls', async (t) => {
    await alipay.pickUser('alice')
    await alipay.run('login')
    t.match(await alipay.run('phone'), /"mobile": "13700137000"/, 'my.getPhoneNumber\'s payload, checked and opened on the server')
    t.match(await alipay.log(), [/^200 POST \/auth\/alipay\/phone/, /^POST \/auth\/alipay\/phone[\s\S]*"response": "\{/, /^my\.getPhoneNumber/])
    await alipay.pickUser('panda')
    await alipay.page.locator('[data-platform="alipay"] [data-testid="scope"]').selectOption('auth_user')
    t.match(await alipay.run('code'), /"code": "[0-9a-f]{32}"/, 'my.getAuthCode gave a code')
    t.match(await alipay.run('login'), /"profile": "ok"/)
    t.match(await alipay.status(), /^Logged in as 🐼 熊猫 Panda 🎋 · skey /, 'the nickname from alipay.user.info.share')
    t.match(await alipay.run('phone'), /^403 MPA_PHONE_REFUSED\nAlipay gave no phone number: the Alipay account has no phone number bound$/)
    t.match(await alipay.run('order'), /"quantity": 2/)
    t.match(await alipay.run('profile'), /"provider": "alipay"[\s\S]*"orders": 1/)
  })

  await t.test('Douyin: a guest logs in as the device; a user: code, login, user info, phone number', async (t) => {
    await douyin.pickUser('guest')
    t.match(await douyin.run('userinfo'), /^getUserInfo:fail guest is not logged in to Douyin: a device, not a user/)
    t.match(await douyin.run('login'), /"skey": "[A-Za-z0-9_-]{6}…"/, 'only the anonymousCode, which this app accepts')
    t.match(await douyin.log(), [/^200 POST \/auth\/douyin\/login/, /^POST \/auth\/douyin\/login[\s\S]*"anonymousCode"/])
    t.notMatch((await douyin.log())[1], /"code"/, 'no code: the guest is not logged in to Douyin')
    await douyin.pickUser('dora')
    t.match(await douyin.run('phone'), /^getPhoneNumber:fail Tap tt\.login or Log in first/)
    t.match(await douyin.run('code'), /"code": "[A-Za-z0-9_-]{32}"/, 'tt.login gave a code')
    await douyin.run('login')
    t.match(await douyin.status(), /^Logged in as douyin:ttd0000000000demo1:dDemoDora\S+ · skey /)
    t.match(await douyin.run('profile'), /"provider": "douyin"/)
    t.match(await douyin.run('userinfo'), /"nickName": "Dora 抖音"/, 'decrypted with the session\'s session_key')
    t.match(await douyin.run('phone'), /"phoneNumber": "13900139000"/, 'the button\'s code (3.51.0+), exchanged on the server')
    t.match(await douyin.log(), [/^200 POST \/auth\/douyin\/phone/, /^POST \/auth\/douyin\/phone[\s\S]*"code"/])
  })

  await t.test('QQ: code, login, protected call, user info', async (t) => {
    await qq.pickUser('quinn')
    t.match(await qq.run('userinfo'), /^getUserInfo:fail Tap qq\.login or Log in first/)
    t.match(await qq.run('code'), /"code": "[A-Za-z0-9+/]{32}"/, 'qq.login gave a code')
    await qq.run('login')
    t.match(await qq.status(), /^Logged in as qq:1112000000:QQDemoQuinn\S+ · skey /)
    t.match(await qq.run('order'), /"quantity": 2/)
    t.match(await qq.run('profile'), /"provider": "qq"[\s\S]*"orders": 1/)
    t.match(await qq.run('userinfo'), /"nickName": "Quinn QQ"/)
  })

  await t.test('WeCom: wx.qy.login, login as the corp member, protected calls', async (t) => {
    await wecom.pickUser('zhang')
    t.match(await wecom.run('code'), /"code": "[A-Za-z0-9_-]{32}"/, 'wx.qy.login gave a code')
    await wecom.run('login')
    t.match(await wecom.status(), /^Logged in as wecom:wxd000000000wecom1:wwd0000000000demo1:ZhangSan · skey /)
    t.match(await wecom.run('profile'), /"provider": "wecom"/)
  })

  for (const [name, panel, user, nickname, number] of [['Kuaishou', kuaishou, 'kai', 'Kai 快手', '13600136000'], ['Baidu', baidu, 'bai', 'Bai 百度', '13500135000']] as const) {
    await t.test(`${name}: code, login, user info, phone number`, async (t) => {
      await panel.pickUser(user)
      t.match(await panel.run('phone'), /^getPhoneNumber:fail Tap \S+ or Log in first/)
      await panel.run('login')
      t.match(await panel.run('profile'), new RegExp(`"provider": "${name.toLowerCase()}"`))
      t.match(await panel.run('userinfo'), new RegExp(`"${nickname}"`), 'decrypted with the session\'s session_key')
      t.match(await panel.run('phone'), new RegExp(`"phoneNumber": "${number}"`))
    })
  }

  if (process.env.DEMO_SCREENSHOT) await page.screenshot({ path: process.env.DEMO_SCREENSHOT, fullPage: true })

  await t.test('every platform: a replayed code is the same session within the window, refused after it', async (t) => {
    let lastLogin = 0
    for (const [name, panel] of phones) {
      await panel.run('login')
      // The window began when the server took the code, before this.
      lastLogin = Date.now()
      t.match(await panel.run('replay'), /"statusCode": 200/, `${name}: a replay within the window: the same answer`)
    }
    await page.waitForTimeout(Math.max(0, lastLogin + REPLAY_WINDOW_MS + 200 - Date.now()))
    for (const [name, panel] of phones) {
      const late = await panel.run('replay')
      t.match(late, /"statusCode": 401,[\s\S]*"code": "MPA_CODE_INVALID"/, `${name}: an old code: refused`)
      t.notMatch(late, /rid|errcode|err_no|sub_code|message/, `${name}: without the platform's own words`)
    }
  })

  for (const [name, panel] of phones) {
    await t.test(`${name}: devices, logout, revoked skey, logout everywhere`, async (t) => {
      t.match(await panel.run('devices'), /^▶ this device \S+… since/)
      t.equal(await panel.run('logout'), 'Logged out on this device')
      t.equal(await panel.status(), 'Not logged in')

      // The revoked skey: a 401 that says so, and no re-login (an expired session's 401 would log in again).
      t.match(await panel.run('revoked'), /^401 MPA_SESSION_REVOKED/, 'the call fails with the revocation')
      const log = await panel.log()
      t.match(log[0], /the session ended: revoked \(MPA_SESSION_REVOKED\)/, 'the app is told why, once')
      t.match(log[1], /^401 GET \/api\/profile[\s\S]*MPA_SESSION_REVOKED/)
      t.notOk(log.slice(0, 2).some((entry) => /POST \/auth\/\w+\/login/.test(entry)), 'and no login followed')
      t.equal(await panel.status(), 'Not logged in')
      await panel.run('login')
      t.match(await panel.status(), /^Logged in as /, 'the user logs in again when the app asks')

      await panel.run('login') // a second device
      t.equal((await panel.run('devices')).split('\n').length, 3, 'three devices: the first login of this user, the re-login, this one')
      t.equal(await panel.run('logoutAll'), 'Logged out on every device')
      t.match((await panel.log())[0], /^200 DELETE \/auth\/sessions\s+\{\s+"revoked": 3\s+\}/)
      t.equal(await panel.status(), 'Not logged in')
    })
  }

  await t.test('no upstream secret ever reached the page', async (t) => {
    const text = await page.locator('#phones').innerText()
    const secrets = [demo.sandboxes.wechat!, demo.sandboxes.douyin!, demo.sandboxes.qq!, demo.sandboxes.wecom!, demo.sandboxes.kuaishou!, demo.sandboxes.baidu!].flatMap((sandbox) => sandbox.secrets())
    t.ok(secrets.length > 6, 'the sandboxes issued session keys and an access token')
    t.same(secrets.filter((secret) => text.includes(secret)), [], 'no app secret, session_key or access token')
    t.notMatch(text, /authusrB|access_token|session_key/, 'no Alipay token')
    t.same(pageErrors, [], 'no error in the page')
  })
})

function phone (page: Page, platform: PlatformName) {
  const panel = page.locator(`[data-platform="${platform}"]`)
  const text = async (locator: Locator) => (await locator.innerText()).trim()
  return {
    page,
    status: () => text(panel.getByTestId('status')),
    log: async () => (await panel.getByTestId('log').locator('li').allInnerTexts()).map((entry) => entry.trim()),
    pickUser: (key: string) => panel.getByTestId('user').selectOption(key),
    /** Clicks a button and returns what the result box shows once the step is done. */
    async run (action: string): Promise<string> {
      const entries = await panel.getByTestId('log').locator('li').count()
      const result = panel.getByTestId('result')
      await result.evaluate((node) => { node.textContent = '' })
      await panel.locator(`[data-action="${action}"]`).click()
      await result.filter({ hasText: /\S/ }).waitFor()
      if (await panel.getByTestId('log').locator('li').count() <= entries) throw new Error(`${action}: nothing logged`)
      return text(result)
    }
  }
}
