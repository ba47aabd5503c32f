import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { limitLogins } from '../plugins/login-rate-limit.js'
import { Type } from 'typebox'
import { routeScope, type LoginRoutesOptions } from './scope.js'
import { LoginReply, errorReplies } from './schemas.js'

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

/** POST /alipay/login: my.getAuthCode's authCode → a session. */
const alipayRoutes: FastifyPluginAsyncTypebox<LoginRoutesOptions> = async (fastify, options) => {
  routeScope(fastify, 'alipay routes', ['alipay', 'miniprogramLogin'])
  const { miniprogramLogin } = fastify
  const loginConfig = await limitLogins(fastify, options.rateLimit)
  fastify.post('/alipay/login', {
    config: loginConfig,
    schema: {
      summary: 'Log in with an Alipay authCode (my.getAuthCode)',
      tags: ['alipay'],
      body: AlipayLoginBody,
      response: { 200: AlipayLoginReply, ...errorReplies(400, 401, 409, 429, 500, 502, 503, 504) }
    }
  }, async (request) => {
    const { authCode, appId, scope } = request.body
    return miniprogramLogin.login(request, 'alipay', authCode, { appId, scope })
  })
}

export default alipayRoutes
