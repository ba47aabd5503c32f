import type { FastifyBaseLogger } from 'fastify'
import type { LatestSessionKeys } from '../../store/latest-session-keys.js'
import type { HttpAppConfig } from '../common/app-options.js'
import { sessionKeyField, stringField, type JsonReply } from '../common/json-http.js'
import type { PlatformRefusal } from '../common/platform-errors.js'
import { SessionOpenData } from '../common/session-data.js'
import { SessionKeyProvider, type SessionKeyClient, type SessionKeyLogin } from '../common/session-key-provider.js'

/** Kuaishou's logins and open data: its code2session, and WeChat's encrypted-data scheme. */
export type KuaishouClient = SessionKeyClient

const ENDPOINT = 'oauth2/mp/code2session'
// `result` 1 is success. Kuaishou publishes no error table for code2session:
// 100200100 (bad parameters) and 100200101 (bad app_id/app_secret) are those
// of its access_token endpoint, 240001/240002 those of its mini-games'
// code2session; see docs/kuaishou.md.
const SUCCESS = 1
const CODE_INVALID = new Set([100200100, 240001])
const MISCONFIGURED = new Map([[100200101, 'app_id or app_secret is wrong'], [240002, 'app_secret is wrong']])

/** Kuaishou: ks.login's code for the open_id and session_key (AES-128, WeChat's open-data scheme; a watermark is checked when present). */
export class KuaishouProvider extends SessionKeyProvider {
  constructor (configs: HttpAppConfig[], sessionKeys: LatestSessionKeys, log: FastifyBaseLogger) {
    super('kuaishou', { label: 'Kuaishou', option: 'kuaishou' }, configs, new SessionOpenData(sessionKeys, 'when-present'), log)
  }

  async code2Session (code: string, appId?: string): Promise<SessionKeyLogin> {
    const app = this.apps.get(appId)
    // A form body, not the query string the docs' example shows: the secret stays out of URLs (and access logs).
    const reply = await this.call(app, ENDPOINT, {
      method: 'POST',
      form: { app_id: app.appId, app_secret: app.appSecret, js_code: code },
      secrets: [app.appSecret]
    }, refusalOf)
    return { appId: app.appId, openId: stringField(reply, 'open_id', ENDPOINT), sessionKey: sessionKeyField(reply, ENDPOINT) }
  }
}

/** A reply whose `result` is not 1, sorted. */
function refusalOf (reply: JsonReply): PlatformRefusal | undefined {
  const { result } = reply
  if (result === SUCCESS) return undefined
  const code = typeof result === 'number' ? result : String(result)
  const message = reply.error_msg ?? reply.error
  if (typeof code === 'number' && CODE_INVALID.has(code)) return { kind: 'code-invalid', code, message }
  const problem = typeof code === 'number' ? MISCONFIGURED.get(code) : undefined
  if (problem) return { kind: 'misconfigured', code, message, problem }
  return { kind: 'upstream', code, message }
}
