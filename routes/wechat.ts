import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { limitLogins } from '../plugins/login-rate-limit.js'
import { Type } from 'typebox'
import { requireProvider } from './guards.js'
import { routeScope, type LoginRoutesOptions } from './scope.js'
import { LoginReply, errorReplies } from './schemas.js'

// Lengths: wx.login codes are 32 characters, AppIDs 18; user-info payloads are
// well under 4 KiB even with long nicknames, phone payloads a few hundred bytes.
const Code = Type.String({ minLength: 1, maxLength: 128, description: 'The code from wx.login (single use, 5 minutes).' })
// getPhoneNumber codes have no documented format: this pattern (letters,
// digits, '_' and '-', up to 128) is our choice, see docs/wechat.md. Anything
// else is refused here, before an access token or an upstream call is spent on it.
const PhoneCode = Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$', description: 'The code from the getPhoneNumber button (single use, 5 minutes).' })
const AppId = Type.String({ minLength: 1, maxLength: 64, description: 'Which configured mini-program; default the first.' })
// No pattern on base64 fields: the decrypt step explains a mangled value better than a schema error.
const EncryptedData = Type.String({ minLength: 1, maxLength: 16384, description: 'As WeChat gave it, base64.' })
const Iv = Type.String({ minLength: 1, maxLength: 64, description: 'As WeChat gave it, base64.' })

const Profile = Type.Object({
  openId: Type.Optional(Type.String()),
  unionId: Type.Optional(Type.String()),
  nickName: Type.Optional(Type.String()),
  gender: Type.Optional(Type.Integer()),
  language: Type.Optional(Type.String()),
  city: Type.Optional(Type.String()),
  province: Type.Optional(Type.String()),
  country: Type.Optional(Type.String()),
  avatarUrl: Type.Optional(Type.String()),
  watermark: Type.Optional(Type.Object({ appid: Type.String(), timestamp: Type.Optional(Type.Number()) }))
}, { description: 'The decrypted user info.' })

const PhoneReply = Type.Object({
  phoneNumber: Type.String({ description: 'With the country code for numbers outside mainland China.' }),
  purePhoneNumber: Type.String(),
  countryCode: Type.String()
})

// 401: no valid skey or a rotated session_key; 403: not a WeChat session; 503: Redis.
const SESSION_ERRORS = [400, 401, 403, 503]
const UPSTREAM_ERRORS = [429, 500, 502, 504]

/** POST /wechat/login, /wechat/userinfo and /wechat/phone. */
const wechatRoutes: FastifyPluginAsyncTypebox<LoginRoutesOptions> = async (fastify, options) => {
  routeScope(fastify, 'wechat routes', ['wechat', 'miniprogramLogin', 'authenticate'])
  const { wechat, miniprogramLogin } = fastify
  const authenticated = [fastify.authenticate, requireProvider('wechat')]

  const loginConfig = await limitLogins(fastify, options.rateLimit)
  fastify.post('/wechat/login', {
    config: loginConfig,
    schema: {
      summary: 'Log in with a wx.login code',
      tags: ['wechat'],
      body: Type.Object({ code: Code, appId: Type.Optional(AppId) }),
      response: { 200: LoginReply, ...errorReplies(400, 401, 403, 409, 503, ...UPSTREAM_ERRORS) }
    }
  }, async (request) => miniprogramLogin.login(request, 'wechat', request.body.code, { appId: request.body.appId }))

  fastify.post('/wechat/userinfo', {
    preHandler: authenticated,
    schema: {
      summary: 'Decrypt and verify wx.getUserInfo data',
      tags: ['wechat'],
      body: Type.Object({
        encryptedData: EncryptedData,
        iv: Iv,
        rawData: Type.Optional(Type.String({ minLength: 1, maxLength: 8192 })),
        signature: Type.Optional(Type.String({ minLength: 40, maxLength: 40, description: 'sha1(rawData + session_key), hex.' }))
      }, { dependencies: { rawData: ['signature'], signature: ['rawData'] } }),
      response: { 200: Profile, ...errorReplies(...SESSION_ERRORS) }
    }
  }, async (request) => wechat.userInfo(request.session, request.body))

  fastify.post('/wechat/phone', {
    preHandler: authenticated,
    schema: {
      summary: 'The user\'s phone number, from a getPhoneNumber code (current) or encrypted data (legacy)',
      tags: ['wechat'],
      // One shape or the other, never both: a body carrying both is a client bug, not a choice for us to make.
      body: Type.Union([
        Type.Object({ code: PhoneCode }, { additionalProperties: false }),
        Type.Object({ encryptedData: EncryptedData, iv: Iv }, { additionalProperties: false })
      ]),
      response: { 200: PhoneReply, ...errorReplies(...SESSION_ERRORS, ...UPSTREAM_ERRORS) }
    }
  }, async (request) => wechat.phoneNumber(request.session, request.body))
}

export default wechatRoutes
