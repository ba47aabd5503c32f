import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { kAuthentication } from '../plugins/authenticate.js'
import { limitLogins } from '../plugins/login-rate-limit.js'
import { Type } from 'typebox'
import { routeScope, type LoginRoutesOptions } from './scope.js'
import { AppId, EncryptedPhoneBody, phoneRoute, userInfoRoute } from './open-data.js'
import { LOGIN_ERRORS, LoginReply, errorReplies } from './schemas.js'
import { AnonymousLoginRefusedError } from '../errors.js'

// tt.login codes have no documented format: printable ASCII without spaces
// (the login code joins the two with one), up to 256, is our choice, see docs/douyin.md.
const Code = Type.String({ pattern: '^[\\x21-\\x7e]{1,256}$', description: 'tt.login\'s code: the user is logged in to the host app (single use, 5 minutes).' })
const AnonymousCode = Type.String({ pattern: '^[\\x21-\\x7e]{1,256}$', description: 'tt.login\'s anonymousCode: the device (single use, 5 minutes).' })

const DouyinLoginBody = Type.Object({
  code: Type.Optional(Code),
  anonymousCode: Type.Optional(AnonymousCode),
  appId: Type.Optional(AppId)
}, { anyOf: [{ required: ['code'] }, { required: ['anonymousCode'] }], description: 'At least one of code and anonymousCode.' })

/** POST /douyin/login, /douyin/userinfo and /douyin/phone. */
const douyinRoutes: FastifyPluginAsyncTypebox<LoginRoutesOptions> = async (fastify, options) => {
  routeScope(fastify, 'douyin routes', ['douyin', 'miniprogramLogin', kAuthentication])
  const { douyin, miniprogramLogin } = fastify

  const loginConfig = await limitLogins(fastify, options.rateLimit)
  fastify.post('/douyin/login', {
    config: loginConfig,
    schema: {
      summary: 'Log in with tt.login\'s code and anonymousCode',
      tags: ['douyin'],
      body: DouyinLoginBody,
      response: { 200: LoginReply, ...errorReplies(...LOGIN_ERRORS, AnonymousLoginRefusedError) }
    }
  }, async (request) => {
    const { appId, ...codes } = request.body
    return miniprogramLogin.login(request, 'douyin', douyin.loginCode(codes, appId), { appId })
  })

  userInfoRoute(fastify, 'douyin', 'tt.getUserInfo', (session, payload) => douyin.userInfo(session, payload))

  phoneRoute(fastify, 'douyin', 'The user\'s phone number, from the getPhoneNumber button\'s encrypted data', EncryptedPhoneBody, [],
    (session, payload) => douyin.phoneNumber(session, payload))
}

export default douyinRoutes
