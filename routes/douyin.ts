import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { kAuthentication } from '../plugins/authenticate.js'
import { Type, type Static } from 'typebox'
import { AnonymousLoginRefusedError } from '../errors.js'
import { loginRoute } from './login-route.js'
import { codePhoneRoutes } from './open-data.js'
import { AppId } from './schemas.js'
import { routeScope, type LoginRoutesOptions } from './scope.js'

// tt.login codes have no documented format: printable ASCII without spaces
// (the login code joins the two with one), up to 256, is our choice, see docs/douyin.md.
const Code = Type.String({ pattern: '^[\\x21-\\x7e]{1,256}$', description: 'tt.login\'s code: the user is logged in to the host app (single use, 5 minutes).' })
const AnonymousCode = Type.String({ pattern: '^[\\x21-\\x7e]{1,256}$', description: 'tt.login\'s anonymousCode: the device (single use, 5 minutes).' })

// getPhoneNumber codes have no documented format: printable ASCII up to 256 is our choice (docs/douyin.md).
const PhoneCode = Type.String({ pattern: '^[\\x21-\\x7e]{1,256}$', description: 'The getPhoneNumber button\'s code (base library 3.51.0+; single use, 5 minutes).' })

const DouyinLoginBody = Type.Object({
  code: Type.Optional(Code),
  anonymousCode: Type.Optional(AnonymousCode),
  appId: Type.Optional(AppId)
}, { anyOf: [{ required: ['code'] }, { required: ['anonymousCode'] }], description: 'At least one of code and anonymousCode.' })

/** POST /douyin/login, /douyin/userinfo and /douyin/phone. */
const douyinRoutes: FastifyPluginAsyncTypebox<LoginRoutesOptions> = async (fastify, options) => {
  routeScope(fastify, 'douyin routes', ['douyin', 'miniprogramLogin', kAuthentication])
  const { douyin } = fastify

  // One login code for the pair: a retry of the same pair replays. The flow
  // checks the appId and the exchange a guest login, so their refusals are
  // logins that ended (the login event).
  const code = ({ appId, ...codes }: Static<typeof DouyinLoginBody>) => ({ code: douyin.loginCode(codes), options: { appId } })
  await loginRoute(fastify, { provider: 'douyin', call: 'tt.login', body: DouyinLoginBody, code, errors: [AnonymousLoginRefusedError], rateLimit: options.rateLimit })
  codePhoneRoutes(fastify, {
    provider: 'douyin',
    call: 'tt.getUserInfo',
    phoneSummary: 'The user\'s phone number, from the getPhoneNumber button\'s code (base library 3.51.0+) or its encrypted data',
    phoneCode: PhoneCode,
    platform: douyin
  })
}

export default douyinRoutes
