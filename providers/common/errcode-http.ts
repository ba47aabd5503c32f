import type { FastifyBaseLogger } from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import { UpstreamError } from '../../errors.js'
import { observeUpstream } from '../../lib/diagnostics.js'
import type { HttpAppConfig } from './app-options.js'
import { BUSY, errcodeError, errcodeOf, type Platform } from './errcodes.js'
import { JsonHttp, type JsonCall, type JsonReply } from './json-http.js'

export type ErrcodeApp = ErrcodeHttp['apps'][number]

export interface ErrcodeCall extends JsonCall {
  /** Values to scrub from anything WeChat echoes back into an error message. */
  secrets: string[]
}

/** The HTTP of the platforms that answer in WeChat's errcode format (WeChat, QQ): JSON over undici, the busy retry and errcode errors. */
export class ErrcodeHttp extends JsonHttp<HttpAppConfig> {
  constructor (configs: HttpAppConfig[], private readonly log: FastifyBaseLogger, private readonly platform: Platform) {
    super(configs)
  }

  /** A call with its errcode left to the caller; retries once, with jitter, when WeChat is busy. */
  async request (app: ErrcodeApp, endpoint: string, call: ErrcodeCall): Promise<JsonReply> {
    const errcode = (reply: JsonReply) => errcodeOf(reply) === 0 ? undefined : errcodeOf(reply)
    return observeUpstream({ provider: this.platform.option, operation: endpoint, appId: app.appId }, () => this.attempts(app, endpoint, call), errcode)
  }

  private async attempts (app: ErrcodeApp, endpoint: string, call: ErrcodeCall): Promise<JsonReply> {
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
  budgetMs (app: ErrcodeApp): number {
    return app.timeoutMs * 2 + 200
  }

  /** The error for a reply with an errcode; what the operator must fix goes to the log. */
  fail (app: ErrcodeApp, endpoint: string, reply: JsonReply, secrets: string[]): Error {
    const { error, errmsg, fix } = errcodeError(app.appId, endpoint, reply, secrets, this.platform)
    if (fix) this.log.error({ appId: app.appId, endpoint, errcode: errcodeOf(reply), errmsg }, fix)
    return error
  }
}
