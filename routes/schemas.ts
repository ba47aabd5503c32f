import { Type } from 'typebox'

// Reply and body schemas shared by the route plugins. Reply schemas also act
// as an allow-list: fast-json-stringify drops any field they do not name.

// Our errors always carry all four fields. The schema requires none of them and
// keeps extra ones: a hook of the app may answer one of these statuses with
// its own body (a 503 for maintenance), which must pass through unchanged.
export const ErrorReply = Type.Object({
  statusCode: Type.Optional(Type.Integer()),
  code: Type.Optional(Type.String({ description: 'Stable: MPA_* (see the README table), or the code of the plugin that answered (FST_ERR_VALIDATION…).' })),
  error: Type.Optional(Type.String()),
  message: Type.Optional(Type.String())
}, { $id: 'MpaError', additionalProperties: true, description: 'Every error: a stable `code` and a human message.' })

export const User = Type.Object({
  id: Type.Union([Type.String(), Type.Number()])
}, { additionalProperties: true, description: 'What resolveUser returned.' })

export const LoginReply = Type.Object({
  skey: Type.String({ description: 'Send it back in the skey header (or Authorization: Bearer) on every request.' }),
  expiresAt: Type.Number({ description: 'Epoch ms when the session lapses if unused; every use renews it.' }),
  user: User
})

export const SessionView = Type.Object({
  id: Type.String({ description: 'The session id (sha256 of the skey, cut to 128 bits): use it to revoke one device.' }),
  provider: Type.Union([Type.Literal('wechat'), Type.Literal('alipay')]),
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

/** The error replies a route can give, for its response schema. */
export function errorReplies (...statusCodes: number[]): Record<number, typeof ErrorReply> {
  return Object.fromEntries(statusCodes.map((status) => [status, ErrorReply]))
}
