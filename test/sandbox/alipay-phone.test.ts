import tap, { test } from 'tap'
import { createDecipheriv, createVerify, randomBytes } from 'node:crypto'
import { createAlipaySandbox, generateRsaKeyPair } from '../../sandbox/index.js'

// The sandbox's my.getPhoneNumber payloads, read the way Alipay's published
// Java sample reads a real one, without the product's code.

const APP_ID = '2021000000000001'
const CLEAR_APP_ID = '2021000000000002'
const aesKey = randomBytes(16).toString('base64')
const appKeys = generateRsaKeyPair()
const sandbox = await createAlipaySandbox({
  apps: [{ appId: APP_ID, publicKey: appKeys.publicKey, aesKey }, { appId: CLEAR_APP_ID, publicKey: appKeys.publicKey }]
})
tap.teardown(() => sandbox.close())

const verifies = (content: string, sign: string): boolean => createVerify('RSA-SHA256').update(content, 'utf8').verify(sandbox.publicKey, sign, 'base64')
const decrypt = (content: string, key = aesKey): unknown => {
  const decipher = createDecipheriv('aes-128-cbc', Buffer.from(key, 'base64'), Buffer.alloc(16))
  return JSON.parse(Buffer.concat([decipher.update(Buffer.from(content, 'base64')), decipher.final()]).toString('utf8'))
}

test('a payload: the documented envelope, signed over the quoted ciphertext, the node under the app\'s AES key', async (t) => {
  const envelope = JSON.parse(sandbox.phonePayload({ mobile: '13800138000' }))
  t.same(Object.keys(envelope), ['response', 'sign', 'sign_type', 'encrypt_type', 'charset'])
  t.match(envelope, { sign_type: 'RSA2', encrypt_type: 'AES', charset: 'UTF-8' })
  t.ok(verifies(`"${envelope.response}"`, envelope.sign), 'signed over "<ciphertext>"')
  t.notOk(verifies(envelope.response, envelope.sign), 'not over the bare ciphertext')
  t.same(decrypt(envelope.response), { code: '10000', msg: 'Success', mobile: '13800138000' })
  t.match(decrypt(JSON.parse(sandbox.phonePayload()).response), { mobile: /^1[3-9]\d{9}$/ }, 'a random mainland number by default')
})

test('the failures it plays', async (t) => {
  const refused = JSON.parse(sandbox.phonePayload({}, { subCode: 'isv.invalid-auth-relations' }))
  t.same(decrypt(refused.response), { code: '40003', msg: 'Insufficient Conditions', subCode: 'isv.invalid-auth-relations', subMsg: '无效的授权关系' })
  const tampered = JSON.parse(sandbox.phonePayload({}, { tampered: true }))
  t.notOk(verifies(`"${tampered.response}"`, tampered.sign), 'tampered: the signature no longer covers it')
  const wrongKey = JSON.parse(sandbox.phonePayload({}, { wrongKey: true }))
  t.ok(verifies(`"${wrongKey.response}"`, wrongKey.sign), 'wrongKey: signed all the same')
  t.throws(() => decrypt(wrongKey.response), 'wrongKey: the app\'s key does not open it')
  t.notOk('sign' in JSON.parse(sandbox.phonePayload({}, { unsigned: true })), 'unsigned: no sign field')
  const clear = JSON.parse(sandbox.phonePayload({}, { appId: CLEAR_APP_ID }))
  t.match(JSON.parse(clear.response), { code: '40001', subCode: 'isv.missing-encrypt-key' }, 'an app without an AES key: the refusal in clear')
  t.ok(verifies(clear.response, clear.sign), 'signed as it is')
  t.throws(() => sandbox.phonePayload({}, { appId: '2021000000000009' }), /phonePayload: no registered app/)
})
