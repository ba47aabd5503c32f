import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { TString } from 'typebox'
import { kAuthentication } from '../plugins/authenticate.js'
import type { SessionKeyClient } from '../providers/common/session-key-provider.js'
import { codeBody, fromCodeBody, loginRoute } from './login-route.js'
import { EncryptedPhoneBody, phoneRoute, userInfoRoute } from './open-data.js'
import { routeScope, type LoginRoutesOptions } from './scope.js'

/** A platform whose login gives a session_key that seals its open data (Kuaishou, Baidu), as its routes name it. */
export interface SessionKeyPlatform {
  provider: 'kuaishou' | 'baidu'
  /** The call that gives the login code ('ks.login'). */
  loginCall: string
  /** The call that gives the user info ('ks.getUserInfo'). */
  userInfoCall: string
  /** The login code's schema. */
  code: TString
}

/** POST /<provider>/login, /<provider>/userinfo and /<provider>/phone (the getPhoneNumber button's encrypted data). */
export function sessionKeyRoutes ({ provider, loginCall, userInfoCall, code }: SessionKeyPlatform): FastifyPluginAsyncTypebox<LoginRoutesOptions> {
  return async (fastify, options) => {
    routeScope(fastify, `${provider} routes`, [provider, 'miniprogramLogin', kAuthentication])
    const client: SessionKeyClient = fastify[provider]
    await loginRoute(fastify, { provider, call: loginCall, body: codeBody(code), code: fromCodeBody, errors: [], rateLimit: options.rateLimit })
    userInfoRoute(fastify, { provider, call: userInfoCall, userInfo: (session, payload) => client.userInfo(session, payload) })
    phoneRoute(fastify, {
      provider,
      summary: 'The user\'s phone number, from the getPhoneNumber button\'s encrypted data',
      body: EncryptedPhoneBody,
      errors: [],
      phoneNumber: (session, payload) => client.phoneNumber(session, payload)
    })
  }
}
