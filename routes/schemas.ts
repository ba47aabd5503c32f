import { errorCodes, type FastifyErrorCodes } from 'fastify'
import { Type, type TSchema } from 'typebox'
import * as errors from '../errors.js'

// Reply and body schemas shared by the route plugins. Reply schemas also act
// as an allow-list: fast-json-stringify drops any field they do not name.

// Our errors always carry all four fields. The schema requires none of them and
// keeps extra ones: a hook of the app may answer one of these statuses with
// its own body (a 503 for maintenance), which must pass through unchanged.
const CODE = 'Stable: MPA_* (see the README table), or the code of the plugin that answered (FST_ERR_VALIDATION…).'
const ERROR = 'Every error: a stable `code` and a human message.'
const errorFields = {
  statusCode: Type.Optional(Type.Integer()),
  error: Type.Optional(Type.String()),
  message: Type.Optional(Type.String())
}
export const ErrorReply = Type.Object({
  ...errorFields,
  code: Type.Optional(Type.String({ description: CODE }))
}, { $id: 'MpaError', additionalProperties: true, description: ERROR })

export const AppId = Type.String({ minLength: 1, maxLength: 64, description: 'Which configured mini-program; default the first.' })

export const User = Type.Object({
  id: Type.Union([Type.String(), Type.Number()])
}, { additionalProperties: true, description: 'What resolveUser returned.' })

export const LoginReply = Type.Object({
  skey: Type.String({ description: 'Send it back in the skey header (or Authorization: Bearer) on every request.' }),
  expiresAt: Type.Number({ description: 'Epoch ms when the session lapses if unused; every use renews it.' }),
  user: User
}, { description: 'Logged in: a new session (or, for a retried code, the first answer again).' })

export const LinkReply = Type.Object({
  linked: Type.Object({ provider: Type.String(), appId: Type.String() }, { description: 'The platform and app whose identity the app\'s linkIdentity added to this user.' })
}, { description: 'Linked (or, for a retried code, the first answer again): the user can now log in with this platform too.' })

export const SessionView = Type.Object({
  id: Type.String({ description: 'The session id (sha256 of the skey, cut to 128 bits): use it to revoke one device.' }),
  provider: Type.String({ description: 'wechat, alipay, douyin, qq, wecom, kuaishou, baidu, or the name of a provider the app added.' }),
  appId: Type.String(),
  openId: Type.Optional(Type.String()),
  alipayUserId: Type.Optional(Type.String({ description: 'Alipay user_id (2088…), for apps that still get one.' })),
  unionId: Type.Optional(Type.String()),
  device: Type.Optional(Type.String()),
  createdAt: Type.Number({ description: 'Epoch ms.' }),
  expiresAt: Type.Number({ description: 'Epoch ms when it lapses if unused.' }),
  absoluteExpiresAt: Type.Number({ description: 'Epoch ms when it ends, used or not.' }),
  current: Type.Optional(Type.Boolean({ description: 'True for the session making this request.' }))
})

/** An error class (ours from errors.ts, or Fastify's), or a status: every code of ours with that status. */
export type ErrorSource = number | (new () => { code: string, statusCode?: number })

const ourErrors = Object.values(errors).map((ErrorClass) => new ErrorClass())

const fastifyErrors = (...codes: Array<keyof FastifyErrorCodes>) => codes.map((code) => errorCodes[code] as unknown as ErrorSource)
/** A params or query schema Fastify checks before the handler. */
export const VALIDATION_ERRORS = fastifyErrors('FST_ERR_VALIDATION')
/** What Fastify refuses before the handler of a route with a JSON body. */
export const BODY_ERRORS = [...VALIDATION_ERRORS, ...fastifyErrors('FST_ERR_CTP_EMPTY_JSON_BODY', 'FST_ERR_CTP_INVALID_JSON_BODY',
  'FST_ERR_CTP_INVALID_CONTENT_LENGTH', 'FST_ERR_CTP_BODY_TOO_LARGE', 'FST_ERR_CTP_INVALID_MEDIA_TYPE')]

/** What a route behind authenticate answers when there is no live session. */
export const AUTHENTICATED_ERRORS: ErrorSource[] = [
  errors.SkeyMissingError, errors.SkeyMalformedError, errors.SessionExpiredError, errors.SessionReplacedError, errors.SessionRevokedError,
  errors.SessionBannedError, errors.StoreUnavailableError
]

/** What every login route can answer besides its platform's own refusals. */
export const LOGIN_ERRORS: ErrorSource[] = [
  ...BODY_ERRORS, errors.UnknownAppError, errors.CodeInvalidError, errors.LoginInProgressError, errors.RateLimitedError, errors.UserBannedError,
  errors.UpstreamRateLimitedError, errors.MisconfiguredError, errors.InternalError, errors.UpstreamError,
  errors.StoreUnavailableError, errors.UpstreamTimeoutError
]

/**
 * The error replies of a route, for its response schema: one per status,
 * whose `code` lists the codes the route can answer with that status. The
 * codes and statuses come from the error classes themselves.
 */
export function errorReplies (...sources: ErrorSource[]): Record<number, TSchema> {
  const byStatus = new Map<number, Set<string>>()
  for (const { code, statusCode = 500 } of sources.flatMap(errorsOf)) {
    const codes = byStatus.get(statusCode) ?? new Set<string>()
    byStatus.set(statusCode, codes.add(code))
  }
  return Object.fromEntries([...byStatus].sort(([a], [b]) => a - b).map(([status, codes]) => [status, errorReplyOf([...codes])]))
}

function errorsOf (source: ErrorSource): Array<{ code: string, statusCode?: number }> {
  if (typeof source === 'number') return ourErrors.filter((error) => error.statusCode === source)
  const ErrorClass = source
  return [new ErrorClass()]
}

// Inline, without ErrorReply's $id: an $id names one schema only.
function errorReplyOf (codes: string[]): TSchema {
  return Type.Object({
    ...errorFields,
    code: Type.Optional(Type.Unsafe<string>({ type: 'string', enum: codes, description: CODE }))
  }, { additionalProperties: true, description: `${ERROR} Codes: ${codes.join(', ')}.` })
}
