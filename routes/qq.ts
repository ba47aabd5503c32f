import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { kAuthentication } from '../plugins/authenticate.js'
import { limitLogins } from '../plugins/login-rate-limit.js'
import { Type } from 'typebox'
import { routeScope, type LoginRoutesOptions } from './scope.js'
import { codeLoginRoute, userInfoRoute } from './open-data.js'
import { CodeBlockedError } from '../errors.js'

// qq.login codes have no documented length: WeChat's limit, 128, is our choice.
const Code = Type.String({ minLength: 1, maxLength: 128, description: 'The code from qq.login (single use).' })

/** POST /qq/login and /qq/userinfo (QQ documents no phone number button). */
const qqRoutes: FastifyPluginAsyncTypebox<LoginRoutesOptions> = async (fastify, options) => {
  routeScope(fastify, 'qq routes', ['qq', 'miniprogramLogin', kAuthentication])
  codeLoginRoute(fastify, 'qq', 'qq.login', Code, await limitLogins(fastify, options.rateLimit), [CodeBlockedError])
  userInfoRoute(fastify, 'qq', 'qq.getUserInfo', (session, payload) => fastify.qq.userInfo(session, payload))
}

export default qqRoutes
