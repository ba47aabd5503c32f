import type { FastifyError } from '@fastify/error'
import { CodeInvalidError, MisconfiguredError, UpstreamError, UpstreamRateLimitedError } from '../../errors.js'

// Alipay's error nodes (code, sub_code) and what each becomes. Pure.

const CODE_INVALID = new Set([
  'isv.code-invalid', 'isv.refresh-token-invalid', 'isv.refresh-token-time-out',
  'aop.invalid-auth-token', 'aop.auth-token-time-out', 'isv.insufficient-user-permissions'
])

export const CERTIFICATE_PROBLEM = 'certificate mode: appCertContent, alipayPublicCertContent and alipayRootCertContent must be the files the Alipay open platform issued for this app, and not expired'

// What the operator must fix, per sub_code. Alipay's sub_msg is never echoed:
// for isv.invalid-signature it quotes the signed string, code and token included.
const MISCONFIGURED: Record<string, string> = {
  'isv.invalid-signature': 'privateKey does not match the app public key (or app certificate) uploaded for this app on the Alipay open platform, or gateway points at another environment (sandbox vs production)',
  'isv.invalid-app-id': 'Alipay does not know this appId at this gateway: check appId and that gateway is the right environment (sandbox vs production)',
  'isv.unmatched-app-id': 'the authCode was issued to another app: the mini-program\'s appId must be one configured here',
  'isv.missing-signature-config': 'no app public key or certificate is set for this app on the Alipay open platform: upload it (接口加签方式)',
  'isv.invalid-signature-type': 'the app is not set up for RSA2 signatures on the Alipay open platform',
  'isv.invalid-timestamp': 'Alipay rejected the request time: check this server\'s clock (NTP)',
  'isv.insufficient-isv-permissions': 'the app lacks the product this call needs: add 获取会员信息 (user info) to the app on the Alipay open platform',
  'isv.grant-type-invalid': 'Alipay rejected the grant type of the token request'
}

/** The HTTP error for an Alipay error node, and for the operator what to fix (for the log only). */
export function errorForNode (node: Record<string, unknown>, appId: string): { error: FastifyError, fix?: string } {
  const subCode = String(node.subCode ?? node.sub_code ?? '')
  const code = String(node.code ?? '')
  const label = subCode || code || 'no code'
  if (CODE_INVALID.has(subCode)) return { error: new CodeInvalidError(label) }
  if (code === '40005' || /limit/i.test(subCode)) return { error: new UpstreamRateLimitedError(label) }
  const fix = MISCONFIGURED[subCode] ?? (/cert/i.test(subCode) ? CERTIFICATE_PROBLEM : undefined)
  if (fix) return { error: new MisconfiguredError(`Alipay refused app ${appId} (${subCode}); the server log says what to fix`), fix }
  return { error: new UpstreamError(`Alipay ${label}`) }
}

// What an error node holds, and nothing else: the only unsigned node we act on.
const ERROR_NODE_FIELDS = new Set(['code', 'msg', 'sub_code', 'sub_msg'])

/**
 * The error node of an unsigned response, or undefined when the response is
 * anything else. Alipay signs an answer for the app that asked, so a refusal
 * of an app_id it does not know comes unsigned, in the method's own node
 * (reported of the live and the sandbox gateways). Only a plain refusal qualifies: a
 * numeric code other than 10000, a sub_code, and no field an error node does
 * not have (an unsigned node with a token in it is a forgery, whatever its code).
 */
export function unsignedErrorNode (raw: string, responseKey: string): Record<string, unknown> | undefined {
  let body: unknown
  try {
    body = JSON.parse(raw)
  } catch {
    return undefined
  }
  if (!isObject(body)) return undefined
  // Where alipay-sdk looks: the method's node, else error_response.
  const node = body[responseKey] ?? body.error_response
  if (!isObject(node)) return undefined
  const code = typeof node.code === 'number' ? String(node.code) : node.code
  if (typeof code !== 'string' || !/^\d{5}$/.test(code) || code === '10000') return undefined
  if (typeof node.sub_code !== 'string' || node.sub_code === '') return undefined
  if (Object.keys(node).some((field) => !ERROR_NODE_FIELDS.has(field))) return undefined
  return node
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
