import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CodeBlockedError } from '../errors.js'
import { kAuthentication } from '../plugins/authenticate.js'
import { codeBody, fromCodeBody, loginRoute } from './login-route.js'
import { routeScope, type LoginRoutesOptions } from './scope.js'

// wx.qy.login codes have no documented format: WeChat's limit, 128, is our choice (docs/wecom.md).
const Code = Type.String({ minLength: 1, maxLength: 128, description: 'The code from wx.qy.login (single use).' })

/** POST /wecom/login (WeCom documents no open-data route for a mini-program's corp user that this package uses). */
const wecomRoutes: FastifyPluginAsyncTypebox<LoginRoutesOptions> = async (fastify, options) => {
  routeScope(fastify, 'wecom routes', ['wecom', 'miniprogramLogin', kAuthentication])
  await loginRoute(fastify, { provider: 'wecom', call: 'wx.qy.login', body: codeBody(Code), code: fromCodeBody, errors: [CodeBlockedError], rateLimit: options.rateLimit })
}

export default wecomRoutes
