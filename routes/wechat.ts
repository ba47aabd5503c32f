import { TypeBoxValidatorCompiler, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { BadEncryptedDataError, WrongProviderError } from '../lib/errors.js'
import { LoginReply, errorReplies } from '../lib/schemas.js'
import { phoneNumberOf } from '../plugins/wechat.js'

// Lengths: wx.login codes are 32 characters, AppIDs 18; user-info payloads are
// well under 4 KiB even with long nicknames, phone payloads a few hundred bytes.
const Code = Type.String({ minLength: 1, maxLength: 128, description: 'The code from wx.login (single use, 5 minutes).' })
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

/** POST /wechat/login, /wechat/userinfo and /wechat/phone. Needs the sessions, login, authenticate and wechat plugins. */
const wechatRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  if (!fastify.hasDecorator('wechat') || !fastify.hasDecorator('miniprogramLogin')) {
    throw new Error('wechat routes: register fastify-miniprogram-auth and the wechat plugin before the routes')
  }
  const { wechat, miniprogramLogin } = fastify
  // Bodies as sent: no type coercion (Fastify's default would turn { code: 123 } into '123').
  fastify.setValidatorCompiler(TypeBoxValidatorCompiler)

  async function wechatSession (request: FastifyRequest): Promise<void> {
    if (request.session.provider !== 'wechat') throw new WrongProviderError('wechat')
  }
  const authenticated = [fastify.authenticate, wechatSession]

  fastify.post('/wechat/login', {
    schema: {
      summary: 'Log in with a wx.login code',
      tags: ['wechat'],
      body: Type.Object({ code: Code, appId: Type.Optional(AppId) }),
      response: { 200: LoginReply, ...errorReplies(400, 401, 403, 409, 503, ...UPSTREAM_ERRORS) }
    }
  }, async (request) => {
    const { code } = request.body
    const appId = wechat.resolveAppId(request.body.appId)
    // A client whose reply was lost retries the same code: it gets the same answer.
    return miniprogramLogin.once('wechat', appId, code, async () => {
      const { openId, unionId, sessionKey } = await wechat.code2Session(code, appId)
      await wechat.rememberSessionKey(appId, openId, sessionKey)
      return miniprogramLogin.complete(request, { provider: 'wechat', appId, openId, ...(unionId ? { unionId } : {}) }, { sessionKey })
    })
  })

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
  }, async (request) => {
    const { encryptedData, iv, rawData, signature } = request.body
    // Decrypt first: a rotated key then gives the "log in again" 401, not a signature error.
    const { data: profile, sessionKey } = await wechat.openForSession(request.session, encryptedData, iv)
    if (rawData !== undefined && signature !== undefined) wechat.verifyRawData(rawData, signature, sessionKey)
    return profile
  })

  fastify.post('/wechat/phone', {
    preHandler: authenticated,
    schema: {
      summary: 'The user\'s phone number, from a getPhoneNumber code (current) or encrypted data (legacy)',
      tags: ['wechat'],
      body: Type.Union([
        Type.Object({ code: Code }),
        Type.Object({ encryptedData: EncryptedData, iv: Iv })
      ]),
      response: { 200: PhoneReply, ...errorReplies(...SESSION_ERRORS, ...UPSTREAM_ERRORS) }
    }
  }, async (request) => {
    const { body, session } = request
    if ('code' in body) return wechat.getPhoneNumber(body.code, wechat.resolveAppId(session.appId))
    const phone = phoneNumberOf((await wechat.openForSession(session, body.encryptedData, body.iv)).data)
    if (!phone) throw new BadEncryptedDataError('it holds no phone number')
    return phone
  })
}

export default wechatRoutes
