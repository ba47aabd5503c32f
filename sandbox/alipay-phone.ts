import { createCipheriv, randomBytes, randomInt } from 'node:crypto'
import type { AlipaySandboxUser } from './alipay-gateway.js'
import { GatewayError, type AlipaySigner } from './alipay-signing.js'

// What my.getPhoneNumber hands the mini-program: a node encrypted with the
// app's AES key (AES-128-CBC, zero IV, PKCS#7), signed by "Alipay" over the
// ciphertext in double quotes, in the JSON string the mini-program forwards.
// Independent of the product's code, as everything in the sandbox.

export interface AlipayPhoneOptions {
  /** The app whose AES key encrypts the payload; default the only (or first) registered one. */
  appId?: string
  /**
   * Answer with this error node instead of the number, as Alipay does:
   * 'isv.invalid-auth-relations' (the user has not authorized), 'isv.insufficient-isv-permissions'
   * (the app lacks the product), 'aop.unknow-error' (busy)…
   */
  subCode?: string
  /** Change the ciphertext after signing it: a payload Alipay did not sign. */
  tampered?: boolean
  /** Encrypt under another AES key than the app's, signed all the same: what an app given the wrong aesKey receives. */
  wrongKey?: boolean
  /** Leave `sign` out, as Alipay does while the app lacks an Alipay public key, AES key or application gateway. */
  unsigned?: boolean
}

const SUB_MESSAGES: Record<string, string> = {
  'isv.invalid-auth-relations': '无效的授权关系',
  'isv.missing-encrypt-key': '缺少加密配置',
  'isv.insufficient-isv-permissions': 'ISV权限不足，建议在开发者中心检查对应功能是否已经添加，解决办法详见：https://docs.open.alipay.com/common/isverror',
  'isv.invalid-encrypt': '加密异常',
  'isv.missing-default-signature-type': '应用未设置默认签名类型',
  'aop.unknow-error': '系统繁忙'
}

/**
 * The `response` string of my.getPhoneNumber for `user`. An app registered
 * without an AES key gets Alipay's refusal in clear, signed as it is.
 */
export function phoneResponse (signer: AlipaySigner, aesKey: string | undefined, user: AlipaySandboxUser, options: AlipayPhoneOptions): string {
  const subCode = aesKey === undefined ? 'isv.missing-encrypt-key' : options.subCode
  const node = subCode === undefined
    ? { code: '10000', msg: 'Success', mobile: user.mobile ?? `1${randomInt(3, 10)}${String(randomInt(1e9)).padStart(9, '0')}` }
    : phoneErrorNode(subCode)
  const plain = JSON.stringify(node)
  let content = plain
  let signed = plain
  if (aesKey !== undefined) {
    const key = options.wrongKey ? randomBytes(16) : Buffer.from(aesKey, 'base64')
    const cipher = createCipheriv('aes-128-cbc', key, Buffer.alloc(16))
    content = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]).toString('base64')
    signed = `"${content}"`
  }
  const sign = signer.sign(signed)
  // One character changed: still base64, no longer what was signed.
  if (options.tampered) content = `${content.startsWith('A') ? 'B' : 'A'}${content.slice(1)}`
  return JSON.stringify({
    response: content,
    ...(options.unsigned ? {} : { sign }),
    sign_type: 'RSA2',
    encrypt_type: 'AES',
    charset: 'UTF-8'
  })
}

/** The decrypted error node: camel-case subCode and subMsg, unlike the gateway's nodes. */
function phoneErrorNode (subCode: string): Record<string, string> {
  const { code, msg } = new GatewayError(subCode, '').node() as { code: string, msg: string }
  return { code, msg, subCode, subMsg: SUB_MESSAGES[subCode] ?? '业务处理失败' }
}
