import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Certificate } from '@fidm/x509'

// RSA keys and certificate SNs as Alipay's tools and alipay-sdk see them.
// Independent of the product's own key reading on purpose: a fake that reuses
// the code under test cannot catch its bugs.

/**
 * A new RSA 2048 key pair in the shape Alipay's key tool or openssl gives.
 * Each costs 0.1–1 s of CPU; with MPA_SANDBOX_KEY_POOL set to a folder, the
 * pairs come from a pool kept there instead (see rsaKeyPair).
 */
export function generateRsaKeyPair (options: { format?: 'pkcs1' | 'pkcs8', bare?: boolean } = {}): { privateKey: string, publicKey: string } {
  const { privateKey, publicKey } = rsaKeyPair()
  const format = options.format ?? 'pkcs8'
  const pem = privateKey.export({ type: format, format: 'pem' }).toString()
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  return options.bare
    ? { privateKey: bareBase64(pem), publicKey: bareBase64(publicPem) }
    : { privateKey: pem, publicKey: publicPem }
}

let pooled = 0

/**
 * An RSA 2048 key pair. With MPA_SANDBOX_KEY_POOL (the tests set it, to a
 * folder under node_modules/.cache: they made 160 pairs a run, a quarter of the
 * fast tier's CPU), the n-th pair a process asks for is the pool's n-th,
 * made and stored there the first time: still a different pair for each call
 * of one process, and no secret of anything but sandboxes.
 */
export function rsaKeyPair (): { privateKey: KeyObject, publicKey: KeyObject } {
  const pool = process.env.MPA_SANDBOX_KEY_POOL
  if (pool === undefined || pool === '') return generateKeyPairSync('rsa', { modulusLength: 2048 })
  const file = join(pool, `rsa-2048-${pooled++}.pem`)
  let pem: string
  try {
    pem = readFileSync(file, 'utf8')
  } catch {
    pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    mkdirSync(pool, { recursive: true })
    // Written aside, then renamed: a process beside this one never reads half a key.
    const aside = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`
    writeFileSync(aside, pem, { mode: 0o600 })
    renameSync(aside, file)
  }
  const privateKey = createPrivateKey(pem)
  return { privateKey, publicKey: createPublicKey(privateKey) }
}

/** The base64 body of a PEM, as Alipay's console shows keys. */
export function bareBase64 (pem: string): string {
  return pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '')
}

/** A public key from PEM, bare base64 SPKI, or a Buffer of either. */
export function toPublicKey (key: string | Buffer): KeyObject {
  const text = String(key).trim()
  return text.startsWith('-----')
    ? createPublicKey(text)
    : createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' })
}

/** A private key from PEM, or bare base64 PKCS#8 or PKCS#1. */
export function toPrivateKey (key: string | Buffer): KeyObject {
  const text = String(key).trim()
  if (text.startsWith('-----')) return createPrivateKey(text)
  const der = Buffer.from(text, 'base64')
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
  } catch {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs1' })
  }
}

/**
 * The serial "SN" Alipay gives a certificate, computed as alipay-sdk computes
 * it, with the same certificate parser, so that any issuer DN (commas, e-mail
 * addresses) gives the SDK's answer: md5 of the issuer attributes in reverse
 * order, comma-joined, and the decimal serial.
 */
export function certificateSn (pem: string | Buffer): string {
  return snOf(Certificate.fromPEM(Buffer.from(pem)))
}

/** The SN of a root bundle: the SNs of its RSA-signed certificates, '_'-joined. */
export function rootCertificateSn (bundle: string | Buffer): string {
  return Certificate.fromPEMs(Buffer.from(bundle))
    .filter((cert) => cert.signatureOID.startsWith(RSA_SIGNATURE_OID))
    .map(snOf)
    .join('_')
}

const RSA_SIGNATURE_OID = '1.2.840.113549.1.1'

function snOf (cert: Certificate): string {
  const issuer = cert.issuer.attributes.map(({ shortName, value }) => `${shortName}=${String(value)}`).reverse().join(',')
  return createHash('md5').update(issuer + BigInt(`0x${cert.serialNumber}`).toString(10), 'utf8').digest('hex')
}
