import tap, { test, type Test } from 'tap'
import { AlipayRequestError, AlipaySdk } from 'alipay-sdk'
import alipayPlugin from '../../plugins/alipay.js'
import alipayRoutes from '../../routes/alipay.js'
import { generateRsaKeyPair, OAUTH_TOKEN } from '../../sandbox/index.js'
import { AlipayWorld } from '../helpers/alipay.js'

// Alipay reads the request timestamp as China time. alipay-sdk 4 formats it in
// the server's local zone; each test changes the process's zone, and puts it back.
const APP_ID = '2021000000000001'
const appKeys = generateRsaKeyPair()
const world = await AlipayWorld.create(tap, 'alipay-tz', { apps: [{ appId: APP_ID, publicKey: appKeys.publicKey }] })
const { sandbox } = world
const originalTz = process.env.TZ
function inZone (t: Test, zone: string): void {
  process.env.TZ = zone
  t.teardown(() => {
    if (originalTz === undefined) delete process.env.TZ
    else process.env.TZ = originalTz
  })
}
const apps = { appId: APP_ID, privateKey: world.privateKey(appKeys.privateKey), alipayPublicKey: sandbox.publicKey, gateway: sandbox.url }

test('alipay-sdk alone sends local time: under TZ=UTC the gateway refuses it', async (t) => {
  inZone(t, 'UTC')
  t.equal(new Date(2026, 0, 1).getTimezoneOffset(), 0, 'the zone change took effect')
  const sdk = new AlipaySdk({ ...apps, keyType: 'PKCS8' })
  const err = await sdk.exec(OAUTH_TOKEN, { grantType: 'authorization_code', code: sandbox.issueAuthCode({}) }, { validateSign: true })
    .catch((error: unknown) => error)
  t.type(err, AlipayRequestError)
  t.match(JSON.parse((err as AlipayRequestError).responseDataRaw ?? '{}'), { error_response: { sub_code: 'isv.invalid-timestamp' } })
})

for (const [zone, offsetMinutes] of [['UTC', 0], ['America/Los_Angeles', 480], ['Asia/Shanghai', -480]] as const) {
  test(`login works with the server in ${zone}`, async (t) => {
    inZone(t, zone)
    t.equal(new Date(2026, 0, 1).getTimezoneOffset(), offsetMinutes, 'the zone change took effect')
    const app = await world.build({ keyPrefix: world.subPrefix(zone) }, (instance) => {
      instance.register(alipayPlugin, { apps })
      instance.register(alipayRoutes, { prefix: '/auth' })
    })
    const res = await app.inject({ method: 'POST', url: '/auth/alipay/login', payload: { authCode: sandbox.issueAuthCode({ openId: 'open-tz' }) } })
    t.equal(res.statusCode, 200, res.body)
    const seen = sandbox.requests.at(-1)?.timestampMs ?? 0
    t.ok(Math.abs(seen - Date.now()) < 5000, `the gateway read ${sandbox.requests.at(-1)?.timestamp} as now`)
  })
}

test('no token, private key or app secret in any reply, no skey in any log line', async (t) => {
  world.assertNoSecrets(t)
})
