import { test } from 'tap'
import type { ClientModule } from './realm.js'
import type { PlatformAdapter, SessionEnd } from '../../client/index.js'
import { fakeTaro, fakeUni, type Device } from './fakes.js'
import { alice, phones } from './phones.js'
import { clientInRealm } from './realm.js'
import { clientWorld } from './world.js'

// Uploads (an avatar from chooseAvatar) and downloads, on every platform and
// framework that has them, in a realm with only that one's object: the skey
// goes with them, and an expired session logs in again and sends once more,
// as requests do; an ended one does not.

const clientFilesWorld = await clientWorld('client-files')
const { world, wechatSandbox, server, expire } = clientFilesWorld
const { PLATFORM_CASES } = phones(clientFilesWorld)

interface FilesCase {
  title: string
  globals: () => { globals: Record<string, unknown>, device: Device, state: { logins: number } }
  platform: (client: ClientModule, globals: Record<string, unknown>) => Parameters<ClientModule['createAuthClient']>[0]['platform']
  /** my.downloadFile reports no HTTP status. */
  downloadStatus: boolean
}

const CASES: FilesCase[] = [
  ...PLATFORM_CASES.map(({ platform, global, fake }): FilesCase => ({
    title: `${platform}, in a realm with only ${global}`,
    globals: () => {
      const phone = fake()
      return { globals: { [global]: phone.api }, device: phone.device, state: phone.state }
    },
    platform: () => platform,
    downloadStatus: platform !== 'alipay'
  })),
  {
    title: 'uni-app (mp-weixin), in a realm with only uni',
    globals: () => {
      const uni = fakeUni({ uniPlatform: 'mp-weixin', login: () => ({ code: wechatSandbox.issueCode(alice) }) })
      return { globals: { uni: uni.api }, device: uni.device, state: uni.state }
    },
    platform: (client, { uni }) => client.uniAdapter(uni as Parameters<ClientModule['uniAdapter']>[0]),
    downloadStatus: true
  },
  {
    title: 'Taro (WEAPP), in a realm with only Taro',
    globals: () => {
      const taro = fakeTaro('WEAPP', () => ({ code: wechatSandbox.issueCode(alice) }))
      return { globals: { Taro: taro.api }, device: taro.device, state: taro.state }
    },
    platform: (client, { Taro }) => client.taroAdapter(Taro as Parameters<ClientModule['taroAdapter']>[0]),
    downloadStatus: true
  }
]

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3])

for (const { title, globals, platform, downloadStatus } of CASES) {
  test(`${title}: uploadFile and downloadFile with the skey, a re-login once the session expired, none after an end`, async (t) => {
    const { app, baseUrl } = await server(t)
    const phone = globals()
    const { device, state } = phone
    const { exports, leaked } = clientInRealm(phone.globals)
    t.same(leaked, [])
    const ends: SessionEnd[] = []
    const client = exports.createAuthClient({ baseUrl, platform: platform(exports, phone.globals), onSessionEnd: (end) => { ends.push(end) } })
    const { skey, user } = await client.login()

    await expire(app, skey)
    const avatar = device.addFile(PNG)
    const uploaded = await client.uploadFile({ url: '/avatar', filePath: avatar, name: 'avatar', formData: { crop: 'square' } })
    t.same(uploaded, { by: user.id, bytes: PNG.length, fields: { crop: 'square' } }, 'the avatar, parsed from the reply\'s JSON')
    t.equal(state.logins, 2, 'the 401 logged in again')
    const uploads = device.sent.filter((s) => s.url.endsWith('/avatar'))
    t.same(uploads.map((s) => s.headers['x-skey']), [skey, client.skey()], 'sent twice: the expired skey, then the new one')

    if (downloadStatus) {
      await expire(app, client.skey()!)
      const download = await client.downloadFile({ url: '/files/report.txt' })
      t.equal(download.statusCode, 200)
      t.equal(device.readText(download.tempFilePath), `report.txt for ${user.id}`, 'the file, after a re-login')
      t.equal(state.logins, 3, 'the refused download\'s body said MPA_SESSION_EXPIRED: logged in again')

      await t.rejects(client.downloadFile({ url: '/ended/MPA_SESSION_REPLACED' }), { statusCode: 401, code: 'MPA_SESSION_REPLACED' })
    } else {
      const download = await client.downloadFile({ url: '/files/report.txt' })
      t.equal(device.readText(download.tempFilePath), `report.txt for ${user.id}`, 'the file')
      t.equal(download.statusCode, 200, 'taken as 200: my.downloadFile reports no status')
      await t.rejects(client.uploadFile({ url: '/ended/MPA_SESSION_REPLACED', filePath: avatar, name: 'avatar' }), { statusCode: 401, code: 'MPA_SESSION_REPLACED' })
    }
    t.same(ends.map((end) => end.reason), ['replaced'], 'an end, told')
    t.equal(client.skey(), null)
    const logins = state.logins
    await t.rejects(client.uploadFile({ url: '/avatar', filePath: avatar, name: 'avatar' }), { code: 'MPA_SKEY_MISSING' })
    t.equal(state.logins, logins, 'no login by itself after the end')
  })
}

test('uploads to another host get no skey; an adapter without uploads or downloads says so', async (t) => {
  const { baseUrl } = await server(t)
  const other = await server(t)
  const [wechat] = PLATFORM_CASES
  const phone = wechat!.fake()
  const { exports } = clientInRealm({ wx: phone.api })
  const client = exports.createAuthClient({ baseUrl, platform: 'wechat' })
  await client.login()
  const avatar = phone.device.addFile(PNG)
  await t.rejects(client.uploadFile({ url: `${other.baseUrl}/avatar`, filePath: avatar, name: 'avatar' }), { statusCode: 401, code: 'MPA_SKEY_MISSING' })
  t.notOk(phone.device.sent.at(-1)?.headers['x-skey'], 'no skey for the other host')
  t.equal(phone.state.logins, 1, 'and its 401 is not ours')

  const { uploadFile, downloadFile, ...bare } = exports.wxStyle(phone.api as Parameters<ClientModule['wxStyle']>[0])
  const adapter: PlatformAdapter = { name: 'wechat', loginCall: 'wx.login', login: async () => ({}), ...bare }
  t.ok(uploadFile && downloadFile, 'wxStyle gives both where the object has them')
  const without = exports.createAuthClient({ baseUrl, platform: adapter })
  await t.rejects(without.uploadFile({ url: '/avatar', filePath: avatar, name: 'avatar' }), { name: 'TypeError', message: 'uploadFile: this wechat platform object has no uploadFile' })
  await t.rejects(without.downloadFile({ url: '/files/x' }), { name: 'TypeError', message: 'downloadFile: this wechat platform object has no downloadFile' })
})

test('no session_key, token, app secret or private key in any reply, no skey in any log line', async (t) => {
  world.assertNoSecrets(t)
})
