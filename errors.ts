import createError from '@fastify/error'

// Every error the package raises. Codes are a public contract: clients and the
// README's table depend on them, so never rename one.

// 401: the client must log in again (the client helper keys on these codes).
export const SkeyMissingError = createError('MPA_SKEY_MISSING', 'No skey: send it in the %s header or as Authorization: Bearer', 401)
export const SkeyMalformedError = createError('MPA_SKEY_MALFORMED', 'The skey is malformed', 401)
export const SessionExpiredError = createError('MPA_SESSION_EXPIRED', 'The session has expired: log in again', 401)
// 401: the session ended early, and why. Logging in again by itself is not
// what the user wants (another device took over, they logged out elsewhere, a ban).
export const SessionReplacedError = createError('MPA_SESSION_REPLACED', 'The session was replaced by a login on another device', 401)
export const SessionRevokedError = createError('MPA_SESSION_REVOKED', 'The session was logged out', 401)
export const SessionBannedError = createError('MPA_SESSION_BANNED', 'The account is banned', 401)
export const CodeInvalidError = createError('MPA_CODE_INVALID', 'The login code is invalid, expired or already used: get a new one and log in again (%s)', 401)
export const SessionKeyExpiredError = createError('MPA_SESSION_KEY_EXPIRED', 'The data was not encrypted with this session\'s key (a later login rotated it, or the session is too old): log in again and retry', 401)

// 4xx the client caused, logging in again does not help.
export const SessionNotFoundError = createError('MPA_SESSION_NOT_FOUND', 'No such session for this user', 404)
export const UnknownAppError = createError('MPA_UNKNOWN_APP', 'The appId %s is not configured on this server', 400)
// A getPhoneNumber code WeChat refuses: logging in again does not help, asking for the phone again does.
export const PhoneCodeInvalidError = createError('MPA_PHONE_CODE_INVALID', 'The phone number code is invalid, expired or already used: ask the user again (%s)', 400)
export const BadEncryptedDataError = createError('MPA_BAD_ENCRYPTED_DATA', 'The encrypted data is invalid: %s', 400)
export const SignatureMismatchError = createError('MPA_SIGNATURE_MISMATCH', 'The rawData signature does not match', 400)
export const WatermarkMismatchError = createError('MPA_WATERMARK_MISMATCH', 'The data was encrypted for another app', 403)
export const WrongProviderError = createError('MPA_WRONG_PROVIDER', 'This route needs a %s session', 403)
// The browser logins (docs/wechat-web.md): a state that is unknown, expired or used (400), or was made for
// another browser (403, the same code: either way the login must start again); a redirect target off the
// web.redirects allow-list; consent the user refused on WeChat's page.
export const OAuthStateInvalidError = createError('MPA_OAUTH_STATE_INVALID', 'The login state is invalid, expired or already used: start the login again', 400)
export const OAuthStateForeignError = createError('MPA_OAUTH_STATE_INVALID', 'The login was started in another browser: start it again here', 403)
// A browser login's or web-view's target that is neither a path of this site (web-view) nor on web.redirects.
export const RedirectRefusedError = createError('MPA_REDIRECT_REFUSED', 'The redirect target is not on this server\'s allow-list', 400)
export const OAuthRefusedError = createError('MPA_OAUTH_REFUSED', 'The user did not allow the login', 403)
// A POST authenticated by the session cookie that a form of another site could have sent (docs/wechat-web.md, CSRF).
export const CookieCsrfError = createError('MPA_CSRF_REFUSED', 'A request authenticated by the session cookie must send JSON or an X-Requested-With header', 403)
export const CodeBlockedError = createError('MPA_CODE_BLOCKED', 'The platform refused this login: %s', 403)
// Too many logins from this client (the login rate limit), or a 429 from another plugin.
export const RateLimitedError = createError('MPA_RATE_LIMITED', 'Too many requests: retry in %s', 429)
// A 4xx from another plugin or hook that gave no code of its own; its message is kept.
export const RequestRejectedError = createError('MPA_REQUEST_REJECTED', '%s', 400)
// The app's linkIdentity found the identity already owned by another user.
export const IdentityInUseError = createError('MPA_IDENTITY_IN_USE', 'This account is already linked to another user', 409)
export const LoginInProgressError = createError('MPA_LOGIN_IN_PROGRESS', 'A login with this code is still in progress: retry shortly', 409)
// Alipay's my.getPhoneNumber gave no number: the user did not authorize it, or has none bound. Asking again may help.
export const PhoneRefusedError = createError('MPA_PHONE_REFUSED', 'Alipay gave no phone number: %s', 403)
// A banned user's login: not retried by the client helper.
export const UserBannedError = createError('MPA_USER_BANNED', 'This account is banned%s', 403)
// Douyin: a login with only tt.login's anonymousCode, for an app that does not accept them (the option anonymousLogin).
export const AnonymousLoginRefusedError = createError('MPA_ANONYMOUS_LOGIN_REFUSED', 'This app needs a logged-in user: call tt.login with force: true and send its code', 403)

// Scan login (a PC browser logged in from the mini-program) and web-view tickets: what the ticket's holder must know.
export const TicketUnknownError = createError('MPA_TICKET_UNKNOWN', 'No such ticket: it was never issued, or is long gone', 404)
export const TicketExpiredError = createError('MPA_TICKET_EXPIRED', 'The ticket has expired: ask for a new one', 410)
// The transition asked for is not the ticket's next one (already scanned by another session, already confirmed, refused…).
export const TicketStateError = createError('MPA_TICKET_STATE', 'The ticket is %s: it cannot be %s', 409)
// The ticket was issued to another browser (its binding cookie differs): a ticket id copied elsewhere is of no use.
export const TicketBrowserError = createError('MPA_TICKET_BROWSER', 'This ticket was issued to another browser', 403)

// The platform failed us (any platform, an app's own provider's too).
export const UpstreamRateLimitedError = createError('MPA_UPSTREAM_RATE_LIMITED', 'The platform rate-limited this request: retry later (%s)', 429)
export const UpstreamError = createError('MPA_UPSTREAM_ERROR', 'The platform answered with an error: %s', 502)
export const UpstreamBadSignatureError = createError('MPA_UPSTREAM_BAD_SIGNATURE', 'The platform response signature does not verify: %s', 502)
export const UpstreamTimeoutError = createError('MPA_UPSTREAM_TIMEOUT', 'The platform did not answer in time: %s', 504)

// 5xx on our side: the operator must fix the first, the log says the cause of the second.
export const MisconfiguredError = createError('MPA_MISCONFIGURED', 'Server misconfiguration: %s', 500)
// Anything unexpected (a throwing resolveUser, a database error): the cause is in the log, never in the reply.
export const InternalError = createError('MPA_INTERNAL_ERROR', 'Internal server error', 500)
// Redis is down or too slow: nothing to fix in the request, retry later.
export const StoreUnavailableError = createError('MPA_STORE_UNAVAILABLE', 'The session store is unavailable: retry later', 503)
