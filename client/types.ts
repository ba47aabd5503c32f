// The helper's public shapes: what an app passes in and gets back.

import type { SessionEndReason } from './errors.js'

export type AlipayScope = 'auth_base' | 'auth_user'

/** The methods every platform's request call documents: wx.request and my.request have no PATCH. */
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'

/** my.uploadFile's fileType, which Alipay requires. */
export type FileType = 'image' | 'video' | 'audio'

/** A reply as the platform received it, its JSON body parsed: what `readReply` reads. */
export interface Reply {
  statusCode: number
  data: unknown
}

/** A failed reply, as `readReply` tells it: a 401 with one of RELOGIN_CODES logs in again, one of SESSION_END_CODES ends the session. */
export interface ReplyError {
  statusCode: number
  code: string
  message: string
}

/** What a reply means: the data the caller gets, or an error. */
export type ReplyReading = { data: unknown } | { error: ReplyError }

/** Why the session ended, as `onSessionEnd` and `sessionEnd()` tell it. */
export interface SessionEnd {
  reason: SessionEndReason
  /** The server's code: MPA_SESSION_REPLACED, MPA_SESSION_REVOKED, MPA_SESSION_BANNED or MPA_USER_BANNED. */
  code: string
  message: string
}

export interface RequestOptions {
  /** A path under baseUrl ('/api/orders') or an absolute URL (other hosts never get the skey). */
  url: string
  method?: Method
  /** Sent as JSON (as query parameters for GET). */
  data?: unknown
  header?: Record<string, string>
}

export interface UploadOptions {
  /** As RequestOptions.url. */
  url: string
  /** A local file, such as chooseAvatar's avatarUrl or chooseMedia's tempFilePath. */
  filePath: string
  /** The form field of the file. */
  name: string
  formData?: Record<string, string>
  header?: Record<string, string>
  /** Alipay only (my.uploadFile requires it). Default 'image'. */
  fileType?: FileType
}

export interface DownloadOptions {
  /** As RequestOptions.url. */
  url: string
  header?: Record<string, string>
}

export interface DownloadResult {
  tempFilePath: string
  statusCode: number
}

export interface LoginReply {
  skey: string
  expiresAt: number
  user: { id: string | number, [field: string]: unknown }
  [field: string]: unknown
}

export interface LoginOptions {
  /** Alipay: overrides the client's scope for this login (and the re-logins after it). */
  scope?: AlipayScope
}

export interface LogoutOptions {
  /** Revoke every session of this user (DELETE /sessions) instead of this device's. */
  everywhere?: boolean
}

/**
 * What a phone number button hands its handler (`event.detail`): WeChat's
 * `<button open-type="getPhoneNumber">` gives `{ code }` (or, on old base
 * libraries, `{ encryptedData, iv }`), Douyin's `{ encryptedData, iv }`; a
 * user who declines gives only `errMsg`.
 */
export interface PhoneNumberDetail {
  code?: string
  encryptedData?: string
  iv?: string
  errMsg?: string
}

/** The phone number replies: WeChat and Douyin `{ phoneNumber, purePhoneNumber, countryCode }`, Alipay `{ mobile }`. */
export interface PhoneNumberReply {
  phoneNumber?: string
  purePhoneNumber?: string
  countryCode?: string
  mobile?: string
}

/** Scan login: what the mini-program reads of a ticket the PC asks about. */
export type ScanTicketState = 'waiting' | 'scanned' | 'confirmed' | 'refused' | 'claimed' | 'expired'

/** POST {prefix}/scan/tickets/:id/scanned: who asks to log in, to show before the user confirms. */
export interface ScannedTicket {
  state: ScanTicketState
  expiresAt: number
  requester: {
    /** The platform part of the browser's User-Agent ('Windows NT 10.0; Win64; x64'). */
    device?: string
    /** The browser's address, as the server saw it. */
    ip?: string
  }
}

/**
 * Where a scanned code's `scene` is: the page's onLoad query (`{ scene }`,
 * URL-encoded as WeChat hands it), or the launch options of
 * wx.getLaunchOptionsSync() / onLaunch / onShow (`{ query: { scene } }`).
 */
export type SceneSource = { scene?: unknown, query?: unknown }

export interface AuthClient {
  /**
   * The platform's login call, the login route, the skey stored. Concurrent
   * calls (for the same Alipay scope) share one login. After a session end,
   * this is how the app logs back in: it clears the end.
   */
  login: (options?: LoginOptions) => Promise<LoginReply>
  /** A request with the skey; resolves with the reply's data, rejects with an AuthClientError. */
  request: <T = unknown>(options: RequestOptions) => Promise<T>
  /** wx.uploadFile and its likes, with the skey and the same re-login as request; resolves with the reply's data. */
  uploadFile: <T = unknown>(options: UploadOptions) => Promise<T>
  /** wx.downloadFile and its likes, with the skey and the same re-login as request; a status other than 2xx rejects. */
  downloadFile: (options: DownloadOptions) => Promise<DownloadResult>
  /**
   * The user's phone number from the server, as a request with the skey.
   * WeChat and Douyin: pass the phone number button's `event.detail`. Alipay:
   * pass nothing, call it from the onGetAuthorize of `<button
   * open-type="getAuthorize" scope="phoneNumber">`; it calls
   * my.getPhoneNumber and posts its `response`. Platforms without a phone
   * number route (QQ…) reject with a TypeError. A declined button or a failed
   * my.getPhoneNumber rejects with MPA_CLIENT_PHONE_FAILED.
   */
  phoneNumber: <T = PhoneNumberReply>(detail?: PhoneNumberDetail) => Promise<T>
  /**
   * Waits for any login in flight, then revokes the session on the server and
   * forgets the skey (forgotten even when the server cannot be reached).
   */
  logout: (options?: LogoutOptions) => Promise<void>
  /**
   * Scan login: the ticket id a scanned code carries, from the page's onLoad
   * query or the launch options (see SceneSource); null when there is none.
   */
  scanTicket: (source: SceneSource | null | undefined) => string | null
  /** Scan login: tells the server this user scanned the ticket; resolves with who asks (the PC's device and address). */
  scanned: (ticket: string) => Promise<ScannedTicket>
  /** Scan login: logs the PC in as this user. Only the session that scanned the ticket may. */
  confirm: (ticket: string) => Promise<{ state: ScanTicketState }>
  /** Scan login: refuses the PC's login. */
  refuse: (ticket: string) => Promise<{ state: ScanTicketState }>
  /**
   * The URL of a web-view page of the server's site that opens with this
   * session: a one-time ticket (about a minute) is fetched and put in the
   * URL, never the skey. `path` is a path of that site ('/orders?id=1'), or a
   * URL its web.redirects option allows.
   */
  webviewUrl: (path?: string) => Promise<string>
  /** The stored skey, or null. */
  skey: () => string | null
  /** Why the server ended the last session, until the next login; null otherwise. Kept in storage across launches. */
  sessionEnd: () => SessionEnd | null
}
