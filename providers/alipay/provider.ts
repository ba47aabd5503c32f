import type { FastifyBaseLogger } from 'fastify'
import { UpstreamError } from '../../errors.js'
import { Apps } from '../../lib/apps.js'
import type { Exchange, ExchangeContext, Identity, LoginProvider } from '../../types.js'
import { AppsProvider } from '../common/apps-provider.js'
import { AlipayCaller } from './caller.js'
import type { AlipayApp } from './options.js'
import { openPhoneResponse, type AlipayPhoneNumber } from './phone.js'

/** What alipay.system.oauth.token gave. The tokens are secrets: keep them server-side. */
export interface AlipayAuthResult {
  identity: Identity
  accessToken: string
  refreshToken?: string
  /** Seconds (expires_in, a number or a numeric string on the wire); NaN when the reply had none. */
  expiresIn: number
  /** Seconds (re_expires_in, likewise). */
  reExpiresIn: number
}

/** The alipay.user.info.share fields passed to resolveUser as `identity.profile`. */
export interface AlipayProfile {
  nickName?: string
  avatar?: string
  /** 'F' or 'M' (a lowercase reply is upper-cased; any other value is left out). */
  gender?: 'F' | 'M'
  province?: string
  city?: string
}

export interface AlipayClient {
  /** The configured appIds; the first is the default. */
  readonly appIds: readonly string[]
  /** The appId a call uses: the given one if configured, else the default. Throws 400 MPA_UNKNOWN_APP. */
  resolveAppId: (appId?: string) => string
  /** alipay.system.oauth.token for an authCode from my.getAuthCode. */
  exchangeAuthCode: (authCode: string, appId?: string) => Promise<AlipayAuthResult>
  /** alipay.user.info.share with an access token of an auth_user code. */
  getUserInfo: (accessToken: string, appId?: string) => Promise<AlipayProfile>
  /**
   * The phone number in my.getPhoneNumber's `response`, checked with the app's
   * Alipay public key and opened with its aesKey. Throws 400
   * MPA_BAD_ENCRYPTED_DATA for a payload Alipay did not sign, 403
   * MPA_PHONE_REFUSED when Alipay gave no number, 500 MPA_MISCONFIGURED (what
   * to fix in the log) when the app's keys or platform settings are wrong.
   */
  phoneNumber: (response: string, appId?: string) => AlipayPhoneNumber
}

const OAUTH_TOKEN = 'alipay.system.oauth.token'
const USER_INFO_SHARE = 'alipay.user.info.share'
const PROFILE_FIELDS = ['nickName', 'avatar', 'province', 'city'] as const

/** Alipay: the login exchange (oauth.token, and the profile for auth_user codes). */
export class AlipayProvider extends AppsProvider<AlipayCaller> implements LoginProvider, AlipayClient {
  readonly name = 'alipay'
  /** The apps' options, beside their callers (this.apps). */
  private readonly configs: Apps<AlipayApp>

  constructor (apps: AlipayApp[], private readonly log: FastifyBaseLogger) {
    super(apps.map((app) => new AlipayCaller(app, log)))
    this.configs = new Apps(apps)
  }

  /** The token call, and the profile call of an auth_user login. */
  exchangeBudgetMs (appId: string): number {
    return this.apps.get(appId).timeoutMs * 2
  }

  /**
   * The token for the authCode; for an auth_user code also the profile, which
   * resolveUser then sees. A login stands without the profile, and its reply
   * says so.
   */
  async exchange (authCode: string, { appId, scope, log }: ExchangeContext): Promise<Exchange> {
    const { identity, accessToken, refreshToken } = await this.exchangeAuthCode(authCode, appId)
    const secrets = { accessToken, ...(refreshToken ? { refreshToken } : {}) }
    if (scope !== 'auth_user') return { identity, secrets }
    try {
      const profile = await this.getUserInfo(accessToken, appId)
      return { identity: { ...identity, profile: { ...profile } }, secrets, reply: { profile: 'ok' } }
    } catch (err) {
      log.warn({ code: (err as { code?: string }).code }, 'Alipay profile unavailable: logging in without it')
      return { identity, secrets, reply: { profile: 'unavailable' } }
    }
  }

  async exchangeAuthCode (authCode: string, appId?: string): Promise<AlipayAuthResult> {
    const caller = this.apps.get(appId)
    const token = await caller.exec(OAUTH_TOKEN, { grantType: 'authorization_code', code: authCode })
    const { accessToken, refreshToken, openId, userId, unionId } = token as Record<string, string | undefined>
    if (!accessToken || !(openId ?? userId)) throw new UpstreamError('the token response has no access_token or no open_id/user_id')
    const identity: Identity = { provider: 'alipay', surface: 'miniprogram', appId: caller.appId }
    // open_id keys the user when present (new apps get nothing else); user_id otherwise.
    if (openId) identity.openId = openId
    if (userId) identity.alipayUserId = userId
    if (unionId) identity.unionId = unionId
    return {
      identity,
      accessToken,
      ...(refreshToken ? { refreshToken } : {}),
      expiresIn: secondsOf(token.expiresIn),
      reExpiresIn: secondsOf(token.reExpiresIn)
    }
  }

  async getUserInfo (accessToken: string, appId?: string): Promise<AlipayProfile> {
    const info = await this.apps.get(appId).exec(USER_INFO_SHARE, { auth_token: accessToken })
    const profile: AlipayProfile = {}
    for (const field of PROFILE_FIELDS) {
      if (typeof info[field] === 'string') profile[field] = info[field]
    }
    // Documented as F/M, seen lowercase in real replies; anything else is left out.
    const gender = typeof info.gender === 'string' ? info.gender.toUpperCase() : undefined
    if (gender === 'F' || gender === 'M') profile.gender = gender
    return profile
  }

  phoneNumber (response: string, appId?: string): AlipayPhoneNumber {
    const app = this.configs.get(appId)
    // Apps whose Alipay key is the same sign each other's payloads: the other keys tell a wrong session from a wrong aesKey.
    const otherAesKeys = this.appIds.flatMap((id) => (id === app.appId ? [] : this.configs.get(id).aesKey ?? []))
    const answer = openPhoneResponse(response, app.appId, { ...app, otherAesKeys })
    if ('mobile' in answer) return answer
    // The client is told the server is at fault; the operator is told what to fix.
    if (answer.fix) this.log.error({ alipay: { appId: app.appId, api: 'my.getPhoneNumber' } }, `Alipay phone numbers for app ${app.appId}: ${answer.fix}`)
    throw answer.error
  }
}

/** expires_in / re_expires_in: numbers in real replies, strings in Alipay's docs. NaN when neither. */
function secondsOf (value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : Number.NaN
  return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : Number.NaN
}
