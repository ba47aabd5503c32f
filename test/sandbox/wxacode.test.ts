import { test } from 'tap'
import { request } from 'undici'
import { PNG } from 'pngjs'
import jsqr from 'jsqr'
import { createWechatSandbox, type WechatSandbox } from '../../sandbox/wechat.js'

// wxacode.getUnlimited in the sandbox: a PNG whose QR code reads back as the
// scene, and WeChat's refusals in the docs' order.

const APP = 'wx0123456789abcdef'
const SECRET = 'sandbox-test-secret-0123456789ab'

async function post (sandbox: WechatSandbox, path: string, body: Record<string, unknown>) {
  const response = await request(`${sandbox.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
  const bytes = Buffer.from(await response.body.arrayBuffer())
  return { status: response.statusCode, contentType: String(response.headers['content-type']), bytes }
}

async function tokenOf (sandbox: WechatSandbox): Promise<string> {
  const { bytes } = await post(sandbox, '/cgi-bin/stable_token', { grant_type: 'client_credential', appid: APP, secret: SECRET })
  return JSON.parse(bytes.toString()).access_token
}

/** What a QR reader sees in the picture. */
function decode (bytes: Buffer): { text: string | undefined, width: number } {
  const png = PNG.sync.read(bytes)
  return { text: jsqr.default(new Uint8ClampedArray(png.data), png.width, png.height)?.data, width: png.width }
}

test('a code is a PNG whose QR reads back as the scene, at about the width asked for', async (t) => {
  const sandbox = await createWechatSandbox({ apps: { [APP]: SECRET } })
  t.teardown(() => sandbox.close())
  const token = await tokenOf(sandbox)
  const scene = 'Ab-_0123456789abcdefgh'
  const answer = await post(sandbox, `/wxa/getwxacodeunlimit?access_token=${token}`, { scene, page: 'pages/index/index', env_version: 'develop' })
  t.equal(answer.status, 200)
  t.equal(answer.contentType, 'image/png')
  t.same(answer.bytes.subarray(0, 8), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
  const { text, width } = decode(answer.bytes)
  t.equal(text, scene)
  t.ok(width > 380 && width <= 430, `width ${width}`)
  const wide = decode((await post(sandbox, `/wxa/getwxacodeunlimit?access_token=${token}`, { scene: 'a=1', width: 5000 })).bytes)
  t.equal(wide.text, 'a=1')
  t.ok(wide.width <= 1280)
  t.equal(sandbox.calls('getwxacodeunlimit'), 2)
})

test('WeChat\'s refusals: token, scene, page, check_path, env_version, the per-minute quota, and injected faults', async (t) => {
  const clock = { ms: Date.UTC(2026, 0, 1) }
  const sandbox = await createWechatSandbox({ apps: { [APP]: SECRET }, pages: ['pages/index/index', 'pages/scan/scan'], wxacodesPerMinute: 3, now: () => clock.ms })
  t.teardown(() => sandbox.close())
  const token = await tokenOf(sandbox)
  const errcode = async (body: Record<string, unknown>, accessToken: string | null = token) => {
    const answer = await post(sandbox, `/wxa/getwxacodeunlimit${accessToken === null ? '' : `?access_token=${accessToken}`}`, body)
    t.equal(answer.status, 200)
    return answer.contentType.startsWith('image/') ? 0 : JSON.parse(answer.bytes.toString()).errcode
  }
  t.equal(await errcode({ scene: 'x' }, null), 41001)
  t.equal(await errcode({ scene: 'x' }, 'not-a-token'), 40001)
  t.equal(await errcode({ scene: '' }), 40169)
  t.equal(await errcode({ scene: 'x'.repeat(33) }), 40169)
  t.equal(await errcode({ scene: 'a b' }), 40129)
  t.equal(await errcode({ scene: 'x', page: '/pages/scan/scan' }), 41030)
  t.equal(await errcode({ scene: 'x', page: 'pages/unreleased/new' }), 41030)
  t.equal(await errcode({ scene: 'x', env_version: 'beta' }), 40097)
  t.equal(await errcode({ scene: 'x', check_path: 'no' }), 47001)
  // Nothing refused so far counted against the quota: three codes, then 45009 until the next minute.
  t.equal(await errcode({ scene: 'x', page: 'pages/unreleased/new', check_path: false }), 0)
  t.equal(await errcode({ scene: 'x', page: 'pages/scan/scan' }), 0)
  t.equal(await errcode({ scene: 'x.y~z' }), 0)
  t.equal(await errcode({ scene: 'x' }), 45009)
  clock.ms += 60_000
  sandbox.fail('getwxacodeunlimit', { errcode: -1 })
  t.equal(await errcode({ scene: 'x' }), -1)
  t.equal(await errcode({ scene: 'x' }), 0)
  // A GET is refused as WeChat refuses it.
  const wrong = await request(`${sandbox.url}/wxa/getwxacodeunlimit?access_token=${token}`)
  t.equal((await wrong.body.json() as { errcode: number }).errcode, 43002)
})
