import type { KeyObject } from 'node:crypto'
import { AlipaySdk, type AlipaySdkConfig } from 'alipay-sdk'

/**
 * A response without a signature. alipay-sdk 4 (`exec` with `validateSign`)
 * would verify an absent `sign` as `undefined` and throw a TypeError from
 * node:crypto that has lost the body; this keeps the body, so the caller can
 * tell a gateway error Alipay could not sign from an unsigned success (which is
 * never trusted). The body is not enumerable and not in the message: a success
 * carries tokens.
 */
export class UnsignedResponseError extends Error {
  declare readonly responseDataRaw: string
  readonly traceId: string | undefined

  constructor (responseDataRaw: string, traceId: string | undefined) {
    super('the Alipay response carries no signature')
    this.name = 'UnsignedResponseError'
    Object.defineProperty(this, 'responseDataRaw', { value: responseDataRaw, enumerable: false })
    this.traceId = traceId
  }
}

/**
 * alipay-sdk with the keys parsed once, reporting an absent signature as
 * such, body kept, instead of as a TypeError.
 */
export class VerifyingAlipaySdk extends AlipaySdk {
  /**
   * alipay-sdk keeps its keys as PEM text and hands them to node:crypto's
   * sign and verify, which parse the text again on every call (a third of an
   * Alipay login's CPU: 1 ms to sign from PEM, 0.3 ms from a KeyObject).
   * node:crypto takes a KeyObject at those same calls, so the SDK gets ours.
   */
  constructor (config: AlipaySdkConfig, keys: { privateKey: KeyObject, alipayPublicKey: KeyObject }) {
    super(config)
    Object.assign(this.config, keys)
  }

  override checkResponseSign (responseDataRaw: string, responseKey: string, serverSign: string, traceId: string): void {
    // exec passes the body's `sign` field as it parsed it: undefined when absent.
    const sign: unknown = serverSign
    if (typeof sign !== 'string' || sign === '') throw new UnsignedResponseError(responseDataRaw, traceId)
    super.checkResponseSign(responseDataRaw, responseKey, serverSign, traceId)
  }
}
