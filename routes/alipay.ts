import { TypeBoxValidatorCompiler, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { LoginReply, errorReplies } from '../lib/schemas.js'
import type { LoginResult } from '../plugins/login.js'
import type { AlipayProfile } from '../plugins/alipay.js'

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
})

type AlipayLoginResult = LoginResult & { profile?: 'ok' | 'unavailable' }

/** POST /alipay/login: my.getAuthCode's authCode → a session. */
const alipayRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  // Bodies as sent: no type coercion (Fastify's default would turn { code: 123 } into '123').
  fastify.setValidatorCompiler(TypeBoxValidatorCompiler)
  fastify.post('/alipay/login', {
    schema: {
      summary: 'Log in with an Alipay authCode (my.getAuthCode)',
      tags: ['alipay'],
      body: AlipayLoginBody,
      response: { 200: AlipayLoginReply, ...errorReplies(400, 401, 409, 429, 500, 502, 503, 504) }
    }
  }, async (request) => {
    const { alipay, miniprogramLogin } = fastify
    const { authCode, scope } = request.body
    const appId = alipay.resolveAppId(request.body.appId)
    // A retry of the same authCode gets the first answer: Alipay codes are single use.
    return miniprogramLogin.once('alipay', appId, authCode, async (): Promise<AlipayLoginResult> => {
      const { identity, accessToken, refreshToken } = await alipay.exchangeAuthCode(authCode, appId)
      if (scope !== 'auth_user') return miniprogramLogin.complete(request, identity, { accessToken, refreshToken })
      let profile: AlipayProfile | undefined
      try {
        profile = await alipay.getUserInfo(accessToken, appId)
      } catch (err) {
        // The login stands without the profile; the reply says so.
        request.log.warn({ code: (err as { code?: string }).code }, 'Alipay profile unavailable: logging in without it')
      }
      const result = await miniprogramLogin.complete(request, profile ? { ...identity, profile: { ...profile } } : identity, { accessToken, refreshToken })
      return { ...result, profile: profile ? 'ok' : 'unavailable' }
    })
  })
}

export default alipayRoutes
