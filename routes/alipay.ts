import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { kAuthentication } from '../plugins/authenticate.js'
import { Type, type Static } from 'typebox'
import { requireProvider } from './guards.js'
import { routeScope, type LoginRoutesOptions } from './scope.js'
import { loginRoute } from './login-route.js'
import { AUTHENTICATED_ERRORS, BODY_ERRORS, LoginReply, errorReplies } from './schemas.js'
import { BadEncryptedDataError, MisconfiguredError, PhoneRefusedError, UpstreamBadSignatureError, UpstreamError, WrongProviderError } from '../errors.js'

const AlipayLoginBody = Type.Object({
  authCode: Type.String({ minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]+$', description: 'From my.getAuthCode.' }),
  appId: Type.Optional(Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9_-]+$', description: 'Which configured app; default the first.' })),
  scope: Type.Optional(Type.Union([Type.Literal('auth_base'), Type.Literal('auth_user')], {
    default: 'auth_base',
    description: 'The scope the authCode was requested with; auth_user also fetches the profile.'
  }))
}, { additionalProperties: false })

const AlipayLoginReply = Type.Object({
  ...LoginReply.properties,
  profile: Type.Optional(Type.Union([Type.Literal('ok'), Type.Literal('unavailable')], {
    description: 'auth_user only: whether alipay.user.info.share gave the profile passed to resolveUser.'
  }))
}, { description: 'Logged in: a new session (or, for a retried authCode, the first answer again).' })

// A real payload is about 600 characters (an 88-character ciphertext, a 344-character signature).
const AlipayPhoneBody = Type.Object({
  response: Type.String({ minLength: 1, maxLength: 4096, description: 'my.getPhoneNumber\'s res.response, as it is: a JSON string with response and sign.' })
}, { additionalProperties: false })

const AlipayPhoneReply = Type.Object({
  mobile: Type.String({ description: 'As Alipay gave it: mainland numbers without a country code.' })
}, { description: 'The user\'s phone number, as Alipay gave it.' })

/** POST /alipay/login: my.getAuthCode's authCode → a session; POST /alipay/phone: my.getPhoneNumber's response → the number. */
const alipayRoutes: FastifyPluginAsyncTypebox<LoginRoutesOptions> = async (fastify, options) => {
  routeScope(fastify, 'alipay routes', ['alipay', 'miniprogramLogin', kAuthentication])
  const { alipay, [kAuthentication]: { authenticate, sessionOf } } = fastify
  const code = ({ authCode, appId, scope }: Static<typeof AlipayLoginBody>) => ({ code: authCode, options: { appId, scope } })
  await loginRoute(fastify, { provider: 'alipay', call: 'my.getAuthCode', body: AlipayLoginBody, reply: AlipayLoginReply, code, errors: [UpstreamBadSignatureError], rateLimit: options.rateLimit })

  fastify.post('/alipay/phone', {
    preHandler: [authenticate, requireProvider('alipay')],
    schema: {
      summary: 'The user\'s phone number, from my.getPhoneNumber (checked with the Alipay public key, opened with aesKey)',
      tags: ['alipay'],
      body: AlipayPhoneBody,
      // 403: Alipay gave no number; 500: aesKey or the platform settings.
      response: { 200: AlipayPhoneReply, ...errorReplies(...AUTHENTICATED_ERRORS, ...BODY_ERRORS, WrongProviderError, BadEncryptedDataError, PhoneRefusedError, MisconfiguredError, UpstreamError) }
    }
  }, async (request) => alipay.phoneNumber(request.body.response, sessionOf(request).appId))
}

export default alipayRoutes
