import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance, RouteShorthandOptions } from 'fastify'
import { Type, type Static, type TSchema } from 'typebox'
import { kAuthentication } from '../plugins/authenticate.js'
import type { UserInfoPayload } from '../providers/common/session-data.js'
import type { Provider, Session } from '../types.js'
import { requireProvider } from './guards.js'
import {
  BadEncryptedDataError, MisconfiguredError, SessionKeyExpiredError, SignatureMismatchError, UpstreamError, UpstreamRateLimitedError, UpstreamTimeoutError,
  WatermarkMismatchError, WrongProviderError
} from '../errors.js'
import { AUTHENTICATED_ERRORS, BODY_ERRORS, LOGIN_ERRORS, LoginReply, errorReplies, type ErrorSource } from './schemas.js'

// The schemas of the routes that take a platform's "open data" (WeChat, QQ,
// Douyin: user info and phone numbers encrypted under the session_key).

export const AppId = Type.String({ minLength: 1, maxLength: 64, description: 'Which configured mini-program; default the first.' })
// No pattern on base64 fields: the decrypt step explains a mangled value better than a schema error.
const EncryptedData = Type.String({ minLength: 1, maxLength: 16384, description: 'As the platform gave it, base64.' })
const Iv = Type.String({ minLength: 1, maxLength: 64, description: 'As the platform gave it, base64.' })

const UserInfoBody = Type.Object({
  encryptedData: EncryptedData,
  iv: Iv,
  rawData: Type.Optional(Type.String({ minLength: 1, maxLength: 8192 })),
  signature: Type.Optional(Type.String({ minLength: 40, maxLength: 40, description: 'sha1(rawData + session_key), hex.' }))
}, { dependencies: { rawData: ['signature'], signature: ['rawData'] } })

const Profile = Type.Object({
  openId: Type.Optional(Type.String()),
  unionId: Type.Optional(Type.String()),
  nickName: Type.Optional(Type.String()),
  gender: Type.Optional(Type.Integer()),
  language: Type.Optional(Type.String()),
  city: Type.Optional(Type.String()),
  province: Type.Optional(Type.String()),
  country: Type.Optional(Type.String()),
  avatarUrl: Type.Optional(Type.String()),
  watermark: Type.Optional(Type.Object({ appid: Type.String(), timestamp: Type.Optional(Type.Number()) }))
}, { description: 'The decrypted user info.' })

export const EncryptedPhoneBody = Type.Object({ encryptedData: EncryptedData, iv: Iv }, { additionalProperties: false })

const PhoneReply = Type.Object({
  phoneNumber: Type.String({ description: 'With the country code for numbers outside mainland China.' }),
  purePhoneNumber: Type.String(),
  countryCode: Type.String()
}, { description: 'The user\'s phone number, as the platform gave it.' })

// What a session's open-data routes answer: no valid session, another platform's, a rotated session_key, bad data.
const SESSION_ERRORS: ErrorSource[] = [
  ...AUTHENTICATED_ERRORS, ...BODY_ERRORS, WrongProviderError, SessionKeyExpiredError, BadEncryptedDataError, WatermarkMismatchError
]
const USER_INFO_ERRORS: ErrorSource[] = [...SESSION_ERRORS, SignatureMismatchError]
// A call to the platform behind the route.
export const UPSTREAM_ERRORS: ErrorSource[] = [UpstreamRateLimitedError, MisconfiguredError, UpstreamError, UpstreamTimeoutError]

/**
 * POST /<provider>/login { code, appId? }: the login of the platforms whose
 * mini-program sends one code (WeChat's wx.login, QQ's qq.login).
 */
export function codeLoginRoute (fastify: FastifyInstance, provider: Provider, call: string, code: TSchema, config: RouteShorthandOptions['config'], errors: ErrorSource[]): void {
  const { miniprogramLogin } = fastify
  fastify.withTypeProvider<TypeBoxTypeProvider>().post(`/${provider}/login`, {
    config,
    schema: {
      summary: `Log in with a ${call} code`,
      tags: [provider],
      body: Type.Object({ code, appId: Type.Optional(AppId) }),
      response: { 200: LoginReply, ...errorReplies(...LOGIN_ERRORS, ...errors) }
    }
  }, async (request) => miniprogramLogin.login(request, provider, request.body.code as string, { appId: request.body.appId }))
}

/** POST /<provider>/userinfo: the user info `call` gave, opened with the session's session_key, behind a session of `provider`. */
export function userInfoRoute (
  fastify: FastifyInstance,
  provider: Provider,
  call: string,
  userInfo: (session: Session, payload: UserInfoPayload) => Promise<Record<string, unknown>>
): void {
  const { authenticate, sessionOf } = fastify[kAuthentication]
  fastify.withTypeProvider<TypeBoxTypeProvider>().post(`/${provider}/userinfo`, {
    preHandler: [authenticate, requireProvider(provider)],
    schema: {
      summary: `Decrypt and verify ${call} data`,
      tags: [provider],
      body: UserInfoBody,
      response: { 200: Profile, ...errorReplies(...USER_INFO_ERRORS) }
    }
  }, async (request) => userInfo(sessionOf(request), request.body))
}

/** POST /<provider>/phone: the user's phone number from `body` (what the platform's button gave), behind a session of `provider`. */
export function phoneRoute<Body extends TSchema> (
  fastify: FastifyInstance,
  provider: Provider,
  summary: string,
  body: Body,
  errors: ErrorSource[],
  phoneNumber: (session: Session, payload: Static<Body>) => Promise<Static<typeof PhoneReply>>
): void {
  const { authenticate, sessionOf } = fastify[kAuthentication]
  fastify.withTypeProvider<TypeBoxTypeProvider>().post(`/${provider}/phone`, {
    preHandler: [authenticate, requireProvider(provider)],
    schema: { summary, tags: [provider], body, response: { 200: PhoneReply, ...errorReplies(...SESSION_ERRORS, ...errors) } }
  }, async (request) => phoneNumber(sessionOf(request), request.body as Static<Body>))
}
