import type { FastifyBaseLogger } from 'fastify'
import { UpstreamError } from '../../errors.js'
import type { LatestSessionKeys } from '../../store/latest-session-keys.js'
import type { HttpAppConfig } from '../common/app-options.js'
import { stringField, type JsonReply } from '../common/json-http.js'
import type { PlatformRefusal } from '../common/platform-errors.js'
import { SessionOpenData } from '../common/session-data.js'
import { SessionKeyProvider, type SessionKeyClient, type SessionKeyLogin } from '../common/session-key-provider.js'
import { BAIDU_SCHEME } from './open-data.js'

/** Baidu's logins and open data: jscode2sessionkey, and its own AES-192 open-data scheme. */
export type BaiduClient = SessionKeyClient

const ENDPOINT = 'oauth/jscode2sessionkey'
// Baidu's errors are OAuth 2.0's (`error`, with `errno` on the current
// endpoint): a bad code is invalid_grant, a bad App Key or Secret
// invalid_client; see docs/baidu.md.
const MISCONFIGURED = new Map([['invalid_client', 'the App Key (appId) or App Secret (appSecret) is wrong']])
const CODE_INVALID = new Set(['invalid_grant'])
// AES-192: base64 of 24 bytes.
const SESSION_KEY = /^[A-Za-z0-9+/]{32}$/

/** Baidu smart programs: swan.getLoginCode's code for the openid and session_key. */
export class BaiduProvider extends SessionKeyProvider {
  constructor (configs: HttpAppConfig[], sessionKeys: LatestSessionKeys, log: FastifyBaseLogger) {
    super('baidu', { label: 'Baidu', option: 'baidu' }, configs, new SessionOpenData(sessionKeys, BAIDU_SCHEME), log)
  }

  async code2Session (code: string, appId?: string): Promise<SessionKeyLogin> {
    const app = this.apps.get(appId)
    const reply = await this.call(app, ENDPOINT, {
      method: 'POST',
      form: { code, client_id: app.appId, sk: app.appSecret },
      secrets: [app.appSecret]
    }, refusalOf)
    const sessionKey = stringField(reply, 'session_key', ENDPOINT)
    // One that cannot be an AES-192 key would fail every decryption as if it had rotated.
    if (!SESSION_KEY.test(sessionKey)) throw new UpstreamError(`${ENDPOINT} answered a session_key that is not an AES-192 key`)
    return { appId: app.appId, openId: stringField(reply, 'openid', ENDPOINT), sessionKey }
  }
}

/** A reply with an `error` or a non-zero `errno`, sorted. */
function refusalOf (reply: JsonReply): PlatformRefusal | undefined {
  const { error, errno } = reply
  const errnoSet = errno !== undefined && errno !== null && errno !== 0 && errno !== '0'
  if ((error === undefined || error === null || error === '') && !errnoSet) return undefined
  const code = typeof error === 'string' && error !== '' ? error : typeof errno === 'number' ? errno : String(errno ?? error)
  const message = reply.error_description
  if (typeof error === 'string' && CODE_INVALID.has(error)) return { kind: 'code-invalid', code, message }
  const problem = typeof error === 'string' ? MISCONFIGURED.get(error) : undefined
  if (problem) return { kind: 'misconfigured', code, message, problem }
  return { kind: 'upstream', code, message }
}
