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
