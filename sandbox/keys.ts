import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { Certificate } from '@fidm/x509'

// RSA keys and certificate SNs as Alipay's tools and alipay-sdk see them.
// Independent of the product's own key reading on purpose: a fake that reuses
// the code under test cannot catch its bugs.

/** A new RSA 2048 key pair in the shape Alipay's key tool or openssl gives. */
export function generateRsaKeyPair (options: { format?: 'pkcs1' | 'pkcs8', bare?: boolean } = {}): { privateKey: string, publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const format = options.format ?? 'pkcs8'
  const pem = privateKey.export({ type: format, format: 'pem' }).toString()
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  return options.bare
    ? { privateKey: bareBase64(pem), publicKey: bareBase64(publicPem) }
    : { privateKey: pem, publicKey: publicPem }
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
