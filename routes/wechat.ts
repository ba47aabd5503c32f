import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { CodeBlockedError } from '../errors.js'
import { kAuthentication } from '../plugins/authenticate.js'
import { codeBody, fromCodeBody, loginRoute } from './login-route.js'
import { codePhoneRoutes } from './open-data.js'
import { routeScope, type LoginRoutesOptions } from './scope.js'

// Lengths: wx.login codes are 32 characters, AppIDs 18; user-info payloads are
// well under 4 KiB even with long nicknames, phone payloads a few hundred bytes.
const Code = Type.String({ minLength: 1, maxLength: 128, description: 'The code from wx.login (single use, 5 minutes).' })
// getPhoneNumber codes have no documented format: this pattern (letters,
// digits, '_' and '-', up to 128) is our choice, see docs/wechat.md. Anything
// else is refused here, before an access token or an upstream call is spent on it.
const PhoneCode = Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$', description: 'The code from the getPhoneNumber button (single use, 5 minutes).' })

/** POST /wechat/login, /wechat/userinfo and /wechat/phone. */
const wechatRoutes: FastifyPluginAsyncTypebox<LoginRoutesOptions> = async (fastify, options) => {
  routeScope(fastify, 'wechat routes', ['wechat', 'miniprogramLogin', kAuthentication])
  const { wechat } = fastify

  await loginRoute(fastify, { provider: 'wechat', call: 'wx.login', body: codeBody(Code), code: fromCodeBody, errors: [CodeBlockedError], rateLimit: options.rateLimit })
  codePhoneRoutes(fastify, {
    provider: 'wechat',
    call: 'wx.getUserInfo',
    phoneSummary: 'The user\'s phone number, from a getPhoneNumber code (current) or encrypted data (legacy)',
    phoneCode: PhoneCode,
    platform: wechat
  })
}

export default wechatRoutes
