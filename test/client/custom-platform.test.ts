import { test } from 'tap'
import type { AuthClient } from '../../client/index.js'
import { phones } from './phones.js'
import { clientBuild, loadInRealm } from './realm.js'
import { clientWorld } from './world.js'

// A platform the helper does not know, added by the app in a few lines:
// Feishu (Lark), whose `tt.login` gives a code and whose request and storage
// are shaped as wx's. The app's module runs beside the built helper in a
// realm with only Feishu's `tt`; the server serves it with the app's own
// provider (docs/custom-provider.md).

const clientCustomWorld = await clientWorld('client-custom')
const { world, issuers, server, expire } = clientCustomWorld
const { customPhone } = phones(clientCustomWorld)

/** The app's module, as docs/client.md shows it (require: the package's name resolves to its index.js). */
const APP = `
const { codeLogin, createAuthClient, wxStyle } = require('./index.js')

const lark = {
  name: 'lark',
  loginCall: 'tt.login',
  login: codeLogin((callbacks) => tt.login(callbacks)),
  ...wxStyle(tt)
}

module.exports = (baseUrl) => createAuthClient({ baseUrl, platform: lark })
`

test('an app\'s own adapter (Feishu): its login route, the skey on requests, uploads, a re-login once the session expired, logout', async (t) => {
  const { app, baseUrl } = await server(t)
  const phone = customPhone('lark', 'larkClientLi01')
  const { exports, leaked } = loadInRealm({ ...clientBuild().files, 'app.js': APP }, { tt: phone.api }, 'app.js')
  t.same(leaked, [])
  const client = (exports as unknown as (baseUrl: string) => AuthClient)(baseUrl)

  const { skey, user } = await client.login()
  t.equal(user.id, 'lark:lark-app:larkClientLi01', 'the app\'s provider made the session')
  t.equal(issuers.lark.exchanges, 1)
  t.match(await client.request({ url: '/me' }), { user: { id: user.id } })
  await expire(app, skey)
  const avatar = phone.device.addFile(new Uint8Array([7, 7, 7]))
  t.match(await client.uploadFile({ url: '/avatar', filePath: avatar, name: 'avatar' }), { by: user.id, bytes: 3 }, 'wxStyle gave uploads too')
  t.equal(phone.state.logins, 2, 'a re-login after the expiry')
  await client.logout()
  t.same(phone.device.sent.map((s) => `${s.method} ${new URL(s.url).pathname}`), [
    'POST /auth/lark/login', 'GET /me', 'POST /avatar', 'POST /auth/lark/login', 'POST /avatar', 'DELETE /auth/session'
  ])
})

test('no session_key, token, app secret or private key in any reply, no skey in any log line', async (t) => {
  world.assertNoSecrets(t)
})
