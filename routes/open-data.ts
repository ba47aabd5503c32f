import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { Type, type Static, type TSchema, type TString } from 'typebox'
import { kAuthentication } from '../plugins/authenticate.js'
import type { UserInfoPayload } from '../providers/common/session-data.js'
import type { Provider, Session } from '../types.js'
import { requireProvider } from './guards.js'
import {
  BadEncryptedDataError, MisconfiguredError, PhoneCodeInvalidError, SessionKeyExpiredError, SignatureMismatchError, UpstreamError, UpstreamRateLimitedError, UpstreamTimeoutError,
  WatermarkMismatchError, WrongProviderError
} from '../errors.js'
import { AUTHENTICATED_ERRORS, BODY_ERRORS, errorReplies, type ErrorSource } from './schemas.js'

// The schemas of the routes that take a platform's "open data" (WeChat, QQ,
// Douyin, Kuaishou, Baidu: user info and phone numbers encrypted under the session_key).

// No pattern on base64 fields: the decrypt step explains a mangled value better than a schema error.
const EncryptedData = Type.String({ minLength: 1, maxLength: 16384, description: 'As the platform gave it, base64.' })
const Iv = Type.String({ minLength: 1, maxLength: 64, description: 'As the platform gave it, base64.' })

const UserInfoBody = Type.Object({
  encryptedData: EncryptedData,
  iv: Iv,
  rawData: Type.Optional(Type.String({ minLength: 1, maxLength: 8192 })),
  signature: Type.Optional(Type.String({ minLength: 40, maxLength: 40, description: 'sha1(rawData + session_key), hex.' }))
}, { dependencies: { rawData: ['signature'], signature: ['rawData'] } })

/** String fields, one per name (a decrypted profile has whichever of them the platform filled: Partial below). */
function strings<Name extends string> (...names: Name[]): Record<Name, TString> {
  return Object.fromEntries(names.map((name) => [name, Type.String()])) as Record<Name, TString>
}

const Profile = Type.Partial(Type.Object({
  ...strings('openId', 'unionId', 'nickName', 'language', 'city', 'province', 'country', 'avatarUrl'),
  gender: Type.Integer(),
  // Baidu's swan.getUserInfo names them its own way.
  ...strings('openid', 'nickname', 'headimgurl'),
  sex: Type.Integer(),
  watermark: Type.Object({ appid: Type.String(), timestamp: Type.Optional(Type.Number()) })
}), { description: 'The decrypted user info.' })

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
const UPSTREAM_ERRORS: ErrorSource[] = [UpstreamRateLimitedError, MisconfiguredError, UpstreamError, UpstreamTimeoutError]

/** POST /<provider>/userinfo: the user info `call` gave, opened with the session's session_key, behind a session of `provider`. */
export function userInfoRoute (fastify: FastifyInstance, { provider, call, userInfo }: {
  provider: Provider
  /** The platform call that gave the data ('wx.getUserInfo'). */
  call: string
  userInfo: (session: Session, payload: UserInfoPayload) => Promise<Record<string, unknown>>
}): void {
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
export function phoneRoute<Body extends TSchema> (fastify: FastifyInstance, { provider, summary, body, errors, phoneNumber }: {
  provider: Provider
  summary: string
  body: Body
  /** Errors of the platform's own, beyond those of every session route. */
  errors: ErrorSource[]
  phoneNumber: (session: Session, payload: Static<Body>) => Promise<Static<typeof PhoneReply>>
}): void {
  const { authenticate, sessionOf } = fastify[kAuthentication]
  fastify.withTypeProvider<TypeBoxTypeProvider>().post(`/${provider}/phone`, {
    preHandler: [authenticate, requireProvider(provider)],
    schema: { summary, tags: [provider], body, response: { 200: PhoneReply, ...errorReplies(...SESSION_ERRORS, ...errors) } }
  }, async (request) => phoneNumber(sessionOf(request), request.body as Static<Body>))
}

/**
 * POST /<provider>/userinfo, and POST /<provider>/phone of the platforms whose
 * button gives a code (the current way, exchanged with the platform) or
 * encrypted data (the legacy way): one shape or the other, never both (a body
 * with both is a client bug, not a choice for us to make). WeChat and Douyin.
 */
export function codePhoneRoutes (fastify: FastifyInstance, { provider, call, phoneSummary, phoneCode, platform }: {
  provider: Provider
  /** The platform call that gave the user info ('wx.getUserInfo'). */
  call: string
  phoneSummary: string
  /** The phone button's code, as the platform documents it. */
  phoneCode: TString
  /** The platform's decorator: it decrypts the user info and answers both kinds of phone payload. */
  platform: {
    userInfo: (session: Session, payload: UserInfoPayload) => Promise<Record<string, unknown>>
    phoneNumber: (session: Session, payload: { code: string } | Static<typeof EncryptedPhoneBody>) => Promise<Static<typeof PhoneReply>>
  }
}): void {
  userInfoRoute(fastify, { provider, call, userInfo: (session, payload) => platform.userInfo(session, payload) })
  const body = Type.Union([Type.Object({ code: phoneCode }, { additionalProperties: false }), EncryptedPhoneBody])
  phoneRoute(fastify, { provider, summary: phoneSummary, body, errors: [...UPSTREAM_ERRORS, PhoneCodeInvalidError], phoneNumber: (session, payload) => platform.phoneNumber(session, payload) })
}
