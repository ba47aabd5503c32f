// How a reply is read. The default reads this server's contract: a 2xx is the
// data, anything else `{ statusCode, code, error, message }`. An app whose
// server answers in envelopes (HTTP 200 with `{ code, msg, data }`) passes its
// own `readReply`, and can fall back on this one for the replies it does not
// wrap.

import type { Reply, ReplyError, ReplyReading } from './types.js'

/** The error a reply of this server's contract says: its code and message, or HTTP_<status> for a body without them. */
export function contractError ({ statusCode, data }: Reply): ReplyError {
  const body = (data ?? {}) as { code?: unknown, message?: unknown }
  return {
    statusCode,
    code: typeof body.code === 'string' ? body.code : `HTTP_${statusCode}`,
    message: typeof body.message === 'string' ? body.message : `the server answered HTTP ${statusCode}`
  }
}

/** The default `readReply`: this server's contract. */
export function readContractReply (reply: Reply): ReplyReading {
  return reply.statusCode >= 200 && reply.statusCode < 300 ? { data: reply.data } : { error: contractError(reply) }
}

/** The reply's body: JSON parsed, an empty body as null, other text as is. */
export function parseBody (data: unknown): unknown {
  if (data === '') return null
  if (typeof data !== 'string') return data
  try {
    return JSON.parse(data)
  } catch {
    return data
  }
}
