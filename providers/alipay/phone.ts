import type { FastifyError } from '@fastify/error'
import { createDecipheriv, createVerify, type KeyObject } from 'node:crypto'
import { BadEncryptedDataError, MisconfiguredError, PhoneRefusedError, UpstreamError } from '../../errors.js'

// my.getPhoneNumber's `response`, checked and opened. Pure: no I/O.
//
// The mini-program gets a JSON string,
//   {"response":"<base64>","sign":"<base64>","sign_type":"RSA2","encrypt_type":"AES","charset":"UTF-8"}
// Alipay signs (SHA256withRSA, UTF-8) the ciphertext *with the double quotes
// around it*, as the value appears in its JSON, and encrypts a node such as
// {"code":"10000","msg":"Success","mobile":"…"} with AES-128-CBC, zero IV,
// PKCS#7, under the app's AES key. A node sent in clear (it starts with '{')
// is signed as it is. docs/alipay.md has the sources.

/** The user's phone number as Alipay gave it. */
export interface AlipayPhoneNumber {
  /** As Alipay gave it: mainland numbers without a country code. */
  mobile: string
}

/** What a payload Alipay signed comes to: the number, or the error to answer (and, for the operator, what to fix). */
export type PhoneAnswer = AlipayPhoneNumber | { error: FastifyError, fix?: string }

export interface PhoneKeys {
  /** The app's Alipay public key (or the key of its alipayPublicCert). */
  alipayPublicKey: KeyObject
  /** The app's AES key; without it only a node sent in clear can be read. */
  aesKey?: KeyObject | undefined
  /** The AES keys of the server's other apps: a payload one of them opens was sent with the wrong session. */
  otherAesKeys?: KeyObject[]
}

const ZERO_IV = Buffer.alloc(16)

// Sub-codes Alipay puts in the decrypted node. The fix goes to the log only.
const MISCONFIGURED: Record<string, string> = {
  'isv.missing-encrypt-key': 'no AES key (接口内容加密方式) is set for this app on the Alipay open platform: set one, and give the same key as aesKey',
  'isv.invalid-encrypt': 'Alipay could not encrypt with this app\'s AES key: set the AES key (接口内容加密方式) again on the Alipay open platform, and give it as aesKey',
  'isv.insufficient-isv-permissions': 'the app lacks the 获取会员手机号 product, or its user information application (用户信息申请) is not approved, on the Alipay open platform',
  'isv.missing-default-signature-type': 'the app has no signing method set on the Alipay open platform: save its keys (接口加签方式) again, or set its application gateway (应用网关)'
}

/**
 * Checks and opens a payload. BadEncryptedDataError (400) for anything Alipay
 * did not sign; for what it signed, the number or the error to answer.
 */
export function openPhoneResponse (text: string, appId: string, keys: PhoneKeys): PhoneAnswer {
  const { content, sign } = envelopeOf(text)
  const encrypted = !content.startsWith('{')
  if (encrypted && content.includes(' ')) {
    throw new BadEncryptedDataError('the ciphertext contains a space: a \'+\' was probably turned into a space by form or URL decoding on the way; send res.response as it is, in a JSON body')
  }
  const signed = encrypted ? `"${content}"` : content
  if (!createVerify('RSA-SHA256').update(signed, 'utf8').verify(keys.alipayPublicKey, sign, 'base64')) {
    throw new BadEncryptedDataError('its signature does not verify with this app\'s Alipay public key')
  }
  if (!encrypted) {
    const node = nodeOf(content)
    return node ? answerOf(node, appId) : { error: new UpstreamError('Alipay signed a payload that is neither encrypted nor a JSON node') }
  }
  if (!keys.aesKey) {
    return misconfigured(appId, 'no aesKey', `no aesKey is set for app ${appId}: give the AES key (接口内容加密方式) the Alipay open platform shows for it`)
  }
  const node = decrypt(content, keys.aesKey)
  if (!node && keys.otherAesKeys?.some((key) => decrypt(content, key))) {
    throw new BadEncryptedDataError('it was encrypted for another app of this server: send it with a session of that app')
  }
  if (!node) {
    return misconfigured(appId, 'aesKey', `the aesKey of app ${appId} cannot open a payload Alipay signed: give the AES key (接口内容加密方式) the Alipay open platform shows for this app`)
  }
  return answerOf(node, appId)
}

/** The signed content and its signature, or 400 for anything that is not my.getPhoneNumber's envelope. */
function envelopeOf (text: string): { content: string, sign: string } {
  let envelope: unknown
  try {
    envelope = JSON.parse(text)
  } catch {
    throw new BadEncryptedDataError('response is not JSON: send my.getPhoneNumber\'s res.response as it is')
  }
  if (!isObject(envelope) || typeof envelope.response !== 'string' || envelope.response === '') {
    throw new BadEncryptedDataError('response has no "response" string: send my.getPhoneNumber\'s res.response as it is')
  }
  const { response: content, sign, sign_type: signType = 'RSA2', encrypt_type: encryptType = 'AES', charset = 'UTF-8' } = envelope
  if (typeof sign !== 'string' || sign === '') {
    throw new BadEncryptedDataError('it carries no signature (Alipay leaves "sign" out while the app lacks an Alipay public key, an AES key or an application gateway on the open platform)')
  }
  if (signType !== 'RSA2' || encryptType !== 'AES' || typeof charset !== 'string' || charset.toUpperCase() !== 'UTF-8') {
    throw new BadEncryptedDataError('only sign_type RSA2, encrypt_type AES and charset UTF-8 are read')
  }
  return { content, sign }
}

/** The node under the AES key, or undefined when the key cannot open it. */
function decrypt (content: string, aesKey: KeyObject): Record<string, unknown> | undefined {
  let plain: string
  try {
    const decipher = createDecipheriv('aes-128-cbc', aesKey, ZERO_IV)
    plain = Buffer.concat([decipher.update(Buffer.from(content, 'base64')), decipher.final()]).toString('utf8')
  } catch {
    return undefined
  }
  // A wrong key can still end in a padding that fits: garbage, not a JSON object.
  return nodeOf(plain)
}

/**
 * A JSON object, or undefined. Once it opened under the key and parsed, the
 * key is right: what the object says (even a malformed node) is Alipay's.
 */
function nodeOf (plain: string): Record<string, unknown> | undefined {
  try {
    const node: unknown = JSON.parse(plain)
    return isObject(node) ? node : undefined
  } catch {
    return undefined
  }
}

/** A decrypted node, as Alipay documents them: code 10000 with the mobile, or an error node (camel-case subCode). */
function answerOf (node: Record<string, unknown>, appId: string): PhoneAnswer {
  const subCode = typeof node.subCode === 'string' ? node.subCode : ''
  if (node.code === '10000') {
    if (typeof node.mobile === 'string' && node.mobile !== '') return { mobile: node.mobile }
    return { error: new PhoneRefusedError('the Alipay account has no phone number bound') }
  }
  if (subCode === 'isv.invalid-auth-relations') {
    return { error: new PhoneRefusedError('the user has not authorized it (isv.invalid-auth-relations): ask through a button with open-type getAuthorize and scope phoneNumber') }
  }
  const fix = MISCONFIGURED[subCode]
  if (fix) return misconfigured(appId, subCode, fix)
  const code = typeof node.code === 'string' ? node.code.slice(0, 64) : 'a node without a code'
  return { error: new UpstreamError(`Alipay answered ${subCode.slice(0, 64) || code}: call my.getPhoneNumber again later`) }
}

function misconfigured (appId: string, what: string, fix: string): PhoneAnswer {
  return { error: new MisconfiguredError(`Alipay phone numbers for app ${appId} (${what}); the server log says what to fix`), fix }
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
