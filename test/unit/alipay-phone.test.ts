import { test } from 'tap'
import { createCipheriv, createSecretKey, createSign, randomBytes } from 'node:crypto'
import { openPhoneResponse, type PhoneAnswer, type PhoneKeys } from '../../providers/alipay/phone.js'
import { rsaKeyPair } from '../../sandbox/keys.js'

// openPhoneResponse without a server: payloads built here the way Alipay's
// published Java sample reads them (AlipaySignature.rsaCheck over the
// ciphertext in double quotes, AlipayEncrypt.decryptContent with a zero IV),
// written out step by step rather than through the sandbox.

const APP_ID = '2021000000000001'
// From the sandbox's pool of 2048-bit pairs (MPA_SANDBOX_KEY_POOL): generating them is the slow part.
const alipay = rsaKeyPair()
const stranger = rsaKeyPair()
const aesKey = randomBytes(16)
const keys: PhoneKeys = { alipayPublicKey: alipay.publicKey, aesKey: createSecretKey(aesKey) }

const encrypt = (plain: string, key = aesKey): string => {
  const cipher = createCipheriv('aes-128-cbc', key, Buffer.alloc(16))
  return Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]).toString('base64')
}
const sign = (content: string, key = alipay.privateKey): string => createSign('RSA-SHA256').update(content, 'utf8').sign(key, 'base64')

/** An encrypted payload, signed over the quoted ciphertext as Alipay signs it. */
function encrypted (plain: string, extra: Record<string, unknown> = {}): string {
  const response = encrypt(plain)
  return JSON.stringify({ response, sign: sign(`"${response}"`), sign_type: 'RSA2', encrypt_type: 'AES', charset: 'UTF-8', ...extra })
}

const open = (text: string, withKeys: PhoneKeys = keys): PhoneAnswer => openPhoneResponse(text, APP_ID, withKeys)
const codeOf = (answer: PhoneAnswer): string | undefined => 'error' in answer ? answer.error.code : undefined

test('a success node gives the mobile; the charset is read case-insensitively', async (t) => {
  const success = JSON.stringify({ code: '10000', msg: 'Success', mobile: '13800138000' })
  t.same(open(encrypted(success)), { mobile: '13800138000' })
  t.same(open(encrypted(success, { charset: 'utf-8' })), { mobile: '13800138000' })
})

test('the signature covers the ciphertext in double quotes, nothing else', async (t) => {
  const response = encrypt(JSON.stringify({ code: '10000', msg: 'Success', mobile: '13800138000' }))
  for (const [name, signed] of [['unquoted', response], ['the whole envelope', `{"response":"${response}"}`]] as const) {
    t.throws(() => open(JSON.stringify({ response, sign: sign(signed) })), { code: 'MPA_BAD_ENCRYPTED_DATA', message: /signature does not verify/ }, name)
  }
  t.throws(() => open(JSON.stringify({ response, sign: sign(`"${response}"`, stranger.privateKey) })), { code: 'MPA_BAD_ENCRYPTED_DATA' }, 'another key\'s signature')
  t.throws(() => open(JSON.stringify({ response, sign: sign(`"${response}"`) }), { ...keys, alipayPublicKey: stranger.publicKey }), { code: 'MPA_BAD_ENCRYPTED_DATA' }, 'checked with the app\'s key')
})

test('a node in clear is signed as it is', async (t) => {
  const refusal = JSON.stringify({ code: '40001', msg: 'Missing Required Arguments', subCode: 'isv.missing-encrypt-key', subMsg: '缺少加密配置' })
  const answer = open(JSON.stringify({ response: refusal, sign: sign(refusal) }), { alipayPublicKey: alipay.publicKey })
  t.equal(codeOf(answer), 'MPA_MISCONFIGURED')
  t.match('fix' in answer && answer.fix, /no AES key/)
  const notJson = '{not json'
  t.equal(codeOf(open(JSON.stringify({ response: notJson, sign: sign(notJson) }))), 'MPA_UPSTREAM_ERROR')
})

test('what Alipay signed and the key cannot open is the operator\'s: the aesKey', async (t) => {
  for (const [name, text] of Object.entries({
    'another key': (() => { const response = encrypt('{"code":"10000","mobile":"1"}', randomBytes(16)); return JSON.stringify({ response, sign: sign(`"${response}"`) }) })(),
    'opens to something not JSON': encrypted('plain text'),
    'opens to JSON that is not an object': encrypted('["10000"]')
  })) {
    const answer = open(text)
    t.equal(codeOf(answer), 'MPA_MISCONFIGURED', name)
    t.match('fix' in answer && answer.fix, /aesKey of app 2021000000000001 cannot open/, name)
  }
  const noKey = open(encrypted('{"code":"10000","mobile":"1"}'), { alipayPublicKey: alipay.publicKey })
  t.match('fix' in noKey && noKey.fix, /no aesKey is set for app 2021000000000001/)
})

test('error nodes: refused, misconfigured, or upstream', async (t) => {
  const node = (fields: object): string => encrypted(JSON.stringify({ msg: 'x', ...fields }))
  t.equal(codeOf(open(node({ code: '40003', subCode: 'isv.invalid-auth-relations' }))), 'MPA_PHONE_REFUSED')
  t.equal(codeOf(open(node({ code: '10000', mobile: '' }))), 'MPA_PHONE_REFUSED')
  t.equal(codeOf(open(node({ code: '10000' }))), 'MPA_PHONE_REFUSED')
  for (const subCode of ['isv.missing-encrypt-key', 'isv.invalid-encrypt', 'isv.insufficient-isv-permissions', 'isv.missing-default-signature-type']) {
    const answer = open(node({ code: '40001', subCode }))
    t.equal(codeOf(answer), 'MPA_MISCONFIGURED', subCode)
    t.ok('fix' in answer && answer.fix, `${subCode}: a fix for the log`)
    t.notMatch('error' in answer && answer.error.message, /接口|open platform/, `${subCode}: the reply says only where to look`)
  }
  t.match(open(node({ code: '20000', subCode: 'aop.unknow-error' })), { error: { code: 'MPA_UPSTREAM_ERROR', message: /aop\.unknow-error/ } })
  t.match(open(node({ code: '40004' })), { error: { code: 'MPA_UPSTREAM_ERROR', message: /40004/ } }, 'no subCode: the code')
  // Opened by the key and parsed: the key is right, so a malformed node is Alipay's answer, not the operator's fault.
  t.match(open(encrypted('{"mobile":"13800138000"}')), { error: { code: 'MPA_UPSTREAM_ERROR', message: /a node without a code/ } }, 'no code at all')
  t.match(open(encrypted('{"code":10000,"mobile":"13800138000"}')), { error: { code: 'MPA_UPSTREAM_ERROR' } }, 'a code that is not a string')
  t.notOk('fix' in open(encrypted('{"mobile":"1"}')), 'and nothing for the operator to fix')
})

test('envelopes that are not my.getPhoneNumber\'s are refused before any key is used', async (t) => {
  const good = JSON.parse(encrypted('{"code":"10000","mobile":"1"}'))
  const cases: Record<string, string> = {
    'not JSON': 'x',
    null: 'null',
    'a string': '"abc"',
    'an empty response': JSON.stringify({ ...good, response: '' }),
    'an empty sign': JSON.stringify({ ...good, sign: '' }),
    'a numeric sign': JSON.stringify({ ...good, sign: 1 }),
    'sign_type RSA': JSON.stringify({ ...good, sign_type: 'RSA' }),
    'encrypt_type SM4': JSON.stringify({ ...good, encrypt_type: 'SM4' }),
    'a numeric charset': JSON.stringify({ ...good, charset: 8 })
  }
  for (const [name, text] of Object.entries(cases)) t.throws(() => open(text), { code: 'MPA_BAD_ENCRYPTED_DATA', statusCode: 400 }, name)
})
