import type { FastifyBaseLogger } from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import { UpstreamError } from '../../errors.js'
import { observeUpstream } from '../../lib/diagnostics.js'
import { JsonHttp, type JsonCall } from '../common/json-http.js'
import { BUSY, errcodeError, errcodeOf, type Platform, type WechatReply } from './errcodes.js'
import type { WechatAppConfig } from './options.js'

export type WechatApp = WechatHttp['apps'][number]

export interface WechatCall extends JsonCall {
  /** Values to scrub from anything WeChat echoes back into an error message. */
  secrets: string[]
}

/** WeChat's HTTP (or QQ's: the same wire format): JSON over undici, the busy retry and errcode errors. */
export class WechatHttp extends JsonHttp<WechatAppConfig> {
  constructor (configs: WechatAppConfig[], private readonly log: FastifyBaseLogger, private readonly platform: Platform) {
    super(configs)
  }

  /** A call with its errcode left to the caller; retries once, with jitter, when WeChat is busy. */
  async request (app: WechatApp, endpoint: string, call: WechatCall): Promise<WechatReply> {
    const errcode = (reply: WechatReply) => errcodeOf(reply) === 0 ? undefined : errcodeOf(reply)
    return observeUpstream({ provider: this.platform.option, operation: endpoint, appId: app.appId }, () => this.attempts(app, endpoint, call), errcode)
  }

  private async attempts (app: WechatApp, endpoint: string, call: WechatCall): Promise<WechatReply> {
    for (let attempt = 1; ; attempt++) {
      const { status, reply } = await this.fetchJson(app, endpoint, call)
      const errcode = errcodeOf(reply)
      if (errcode === BUSY && attempt === 1) {
        await sleep(50 + Math.random() * 150)
        continue
      }
      if ((status < 200 || status > 299) && errcode === 0) throw new UpstreamError(`${endpoint} answered HTTP ${status}`)
      return reply
    }
  }

  /** The longest `request` can take: two attempts and the jitter between them. */
  budgetMs (app: WechatApp): number {
    return app.timeoutMs * 2 + 200
  }

  /** The error for a reply with an errcode; what the operator must fix goes to the log. */
  fail (app: WechatApp, endpoint: string, reply: WechatReply, secrets: string[]): Error {
    const { error, errmsg, fix } = errcodeError(app.appId, endpoint, reply, secrets, this.platform)
    if (fix) this.log.error({ appId: app.appId, endpoint, errcode: errcodeOf(reply), errmsg }, fix)
    return error
  }
}
