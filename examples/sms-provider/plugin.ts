import { TypeBoxValidatorCompiler, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errorContract, errorReplies, limitLogins, UserSchema, type LoginRateLimitOptions } from '../../index.js'
import { SmsCodeProvider, type SmsCodeOptions } from './provider.js'

interface SmsLoginOptions extends SmsCodeOptions {
  /** The login rate limit of these routes, shared with the library's login routes (one window per client). Default on. */
  rateLimit?: LoginRateLimitOptions | false
}

// E.164, and the six digits sendCode makes.
const Phone = Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$', description: 'E.164: +8613800138000.' })
const Code = Type.String({ pattern: '^[0-9]{6}$', description: 'The six digits of the SMS.' })

const LoginReply = Type.Object({
  skey: Type.String(),
  expiresAt: Type.Number(),
  user: UserSchema
})

/**
 * POST /sms/code { phone } sends a code; POST /sms/login { phone, code }
 * exchanges it for a session like any login of the library. Register it after
 * fastify-miniprogram-auth, with the same prefix ('/auth').
 */
const smsLogin: FastifyPluginAsyncTypebox<SmsLoginOptions> = async (fastify, options) => {
  const provider = new SmsCodeProvider(options)
  fastify.miniprogramLogin.addProvider(provider)
  // As the library's routes: bodies validated as sent ({ code: 123456 } is not '123456'), and errors
  // answered { statusCode, code, error, message }, an unexpected 5xx without its message.
  fastify.setValidatorCompiler(TypeBoxValidatorCompiler)
  fastify.setErrorHandler(errorContract)
  const config = await limitLogins(fastify, options.rateLimit)

  fastify.post('/sms/code', {
    config,
    schema: {
      body: Type.Object({ phone: Phone }, { additionalProperties: false }),
      response: { 204: Type.Null(), ...errorReplies(400, 429, 500, 503) }
    }
  }, async (request, reply) => {
    await provider.sendCode(request.body.phone)
    return reply.code(204).send(null)
  })

  fastify.post('/sms/login', {
    // loginProvider: a 429 of the rate limit on this route is a login that ended (the login event).
    config: { ...config, loginProvider: provider.name },
    schema: {
      body: Type.Object({ phone: Phone, code: Code }, { additionalProperties: false }),
      response: { 200: LoginReply, ...errorReplies(400, 401, 409, 429, 500, 503) }
    }
  }, async (request) => fastify.miniprogramLogin.login(request, provider.name, `${request.body.phone}:${request.body.code}`))
}

export default smsLogin
