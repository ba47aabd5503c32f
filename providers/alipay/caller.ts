import type { FastifyError } from '@fastify/error'
import type { FastifyBaseLogger } from 'fastify'
import { AlipayRequestError } from 'alipay-sdk'
import { UpstreamBadSignatureError, UpstreamError, UpstreamTimeoutError } from '../../errors.js'
import { chinaTimestamp } from '../../lib/china-time.js'
import { observeUpstream, withErrcode } from '../../lib/diagnostics.js'
import type { AlipayApp } from './options.js'
import { UnsignedResponseError } from './sdk.js'
import { errorForNode, unsignedErrorNode } from './sub-codes.js'

/** Verified calls to one app's gateway through alipay-sdk; every failure becomes one of our errors, with no secret in it. */
export class AlipayCaller {
  readonly appId: string

  constructor (private readonly app: AlipayApp, private readonly log: FastifyBaseLogger) {
    this.appId = app.appId
  }

  /** The longest one call can take. */
  get timeoutMs (): number {
    return this.app.timeoutMs
  }

  async exec (method: string, params: Record<string, string>): Promise<Record<string, unknown>> {
    return observeUpstream({ provider: 'alipay', operation: method, appId: this.appId }, () => this.verifiedExec(method, params), () => undefined)
  }

  private async verifiedExec (method: string, params: Record<string, string>): Promise<Record<string, unknown>> {
    let result: Record<string, unknown>
    try {
      // China time: alipay-sdk 4 would send the server's local time.
      result = await this.app.sdk.exec(method, { ...params, timestamp: chinaTimestamp() }, { validateSign: true })
    } catch (err) {
      throw this.failure(method, err)
    }
    if (result.code !== undefined && result.code !== '10000') throw this.rejected(method, result, result.traceId)
    return result
  }

  private rejected (method: string, node: Record<string, unknown>, traceId: unknown, signed = true): FastifyError {
    const { error, fix } = errorForNode(node, this.app.appId)
    const alipay = { appId: this.app.appId, method, code: node.code, subCode: node.subCode ?? node.sub_code, traceId, signed }
    // Told to the operator, who might otherwise chase a key problem that an intermediary made up.
    const unsigned = signed ? '' : ' (an unsigned reply: the gateway could not sign it, or something between here and Alipay wrote it)'
    // The fix goes to the log only: the client learns no more than that the server is at fault.
    if (fix) this.log.error({ alipay: { ...alipay, gateway: this.app.sdk.config.gateway } }, `Alipay refused app ${this.app.appId}: ${fix}${unsigned}`)
    else this.log.warn({ alipay }, `Alipay answered with an error${unsigned}`)
    return withErrcode(error, String(alipay.subCode ?? alipay.code ?? ''))
  }

  private badSignature (method: string, detail: string, extra: object = {}): FastifyError {
    this.log.error({ alipay: { appId: this.app.appId, method, ...extra } }, `Alipay response signature check failed: ${detail}`)
    return new UpstreamBadSignatureError(detail)
  }

  // Gateway errors come unsigned (an answer is signed for the app that asked,
  // so not for an app_id Alipay does not know) and are mapped like signed ones:
  // an unsigned refusal can only refuse a login, which anyone between here and
  // Alipay can do anyway. Nothing else unsigned is believed: a success, or a
  // refusal with more than an error node's fields, is a bad signature.
  // docs/alipay.md has the reasoning.
  private unsigned (method: string, response: UnsignedResponseError): FastifyError {
    const node = unsignedErrorNode(response.responseDataRaw, responseKeyOf(method))
    if (node) return this.rejected(method, node, response.traceId, false)
    return this.badSignature(method, 'the response carries no signature', { traceId: response.traceId })
  }

  // alipay-sdk error messages quote the verified string (tokens included): only
  // our own words leave this function, and no SDK error becomes a cause.
  private failure (method: string, err: unknown): FastifyError {
    if (err instanceof UnsignedResponseError) return this.unsigned(method, err)
    if (!(err instanceof AlipayRequestError)) {
      this.log.error({ alipay: { appId: this.app.appId, method, error: (err as Error)?.name } }, 'Alipay call failed unexpectedly')
      return new UpstreamError(`${method} failed unexpectedly`)
    }
    const cause = err.cause as { name?: string, code?: string } | undefined
    if (err.message.startsWith('HttpClient Request error')) {
      if (/timeout/i.test(`${cause?.name ?? ''} ${err.message}`)) return new UpstreamTimeoutError(`${method} at the Alipay gateway`)
      return new UpstreamError(`cannot reach the Alipay gateway (${cause?.code ?? cause?.name ?? 'network error'})`)
    }
    const status = /status: (\d+)/.exec(err.message)?.[1]
    if (status) return new UpstreamError(`the Alipay gateway answered HTTP ${status}`)
    let body: Record<string, unknown>
    try {
      body = JSON.parse(err.responseDataRaw ?? '') as Record<string, unknown>
    } catch {
      return new UpstreamError('the Alipay gateway answered with something other than JSON')
    }
    const responseKey = responseKeyOf(method)
    const errorNode = body.error_response as Record<string, unknown> | undefined
    if (body[responseKey] === undefined && typeof errorNode === 'object' && errorNode !== null) {
      // alipay-sdk checks an error_response against the method's key, which
      // always fails: verify the error node ourselves, then map it.
      try {
        this.app.sdk.checkResponseSign(err.responseDataRaw as string, 'error_response', body.sign as string, err.traceId ?? '')
      } catch {
        return this.badSignature(method, 'an error_response whose signature does not verify', { unverified: { code: errorNode.code, subCode: errorNode.sub_code } })
      }
      return this.rejected(method, errorNode, err.traceId)
    }
    if (body[responseKey] === undefined) return new UpstreamError(`the Alipay response has no ${responseKey}`)
    return this.badSignature(method, `the ${responseKey} does not match its signature`)
  }
}

/** Where a method's answer sits in a response body: alipay.system.oauth.token → alipay_system_oauth_token_response. */
function responseKeyOf (method: string): string {
  return `${method.replaceAll('.', '_')}_response`
}
