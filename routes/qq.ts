import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CodeBlockedError } from '../errors.js'
import { kAuthentication } from '../plugins/authenticate.js'
import { codeBody, fromCodeBody, loginRoute } from './login-route.js'
import { userInfoRoute } from './open-data.js'
import { routeScope, type LoginRoutesOptions } from './scope.js'

// qq.login codes have no documented length: WeChat's limit, 128, is our choice.
const Code = Type.String({ minLength: 1, maxLength: 128, description: 'The code from qq.login (single use).' })

/** POST /qq/login and /qq/userinfo (QQ documents no phone number button). */
const qqRoutes: FastifyPluginAsyncTypebox<LoginRoutesOptions> = async (fastify, options) => {
  routeScope(fastify, 'qq routes', ['qq', 'miniprogramLogin', kAuthentication])
  const { qq } = fastify
  await loginRoute(fastify, { provider: 'qq', call: 'qq.login', body: codeBody(Code), code: fromCodeBody, errors: [CodeBlockedError], rateLimit: options.rateLimit })
  userInfoRoute(fastify, { provider: 'qq', call: 'qq.getUserInfo', userInfo: (session, payload) => qq.userInfo(session, payload) })
}

export default qqRoutes
