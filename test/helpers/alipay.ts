import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { createAlipaySandbox, type AlipaySandbox, type AlipaySandboxOptions } from '../../sandbox/index.js'
import type { Teardown } from './redis.js'
import { privateKeyTexts } from './secrets.js'
import { World } from './world.js'

/**
 * One test file's Alipay world: an Alipay sandbox and a World (Redis, apps,
 * one log capture, every reply recorded). The leak check covers the tokens
 * the sandbox issued, the app private keys the file hands the apps
 * (`privateKey`) and every skey the apps handed out.
 */
export class AlipayWorld extends World {
  private constructor (t: Teardown, readonly sandbox: AlipaySandbox, name: string) {
    super(t, name)
    this.watch(() => sandbox.secrets())
  }

  static async create (t: Teardown, name: string, options: AlipaySandboxOptions): Promise<AlipayWorld> {
    const sandbox = await createAlipaySandbox(options)
    t.teardown(() => sandbox.close()) // first registered, last run: after the apps close
    return new AlipayWorld(t, sandbox, name)
  }

  /** An app private key the file uses: its texts must never show. Returns it. */
  privateKey<K extends string | Buffer> (key: K): K {
    const texts = privateKeyTexts(key)
    this.watch(() => texts)
    return key
  }

  /** POST /auth/alipay/login. */
  login (app: FastifyInstance, payload: Record<string, unknown>): Promise<LightMyRequestResponse> {
    return app.inject({ method: 'POST', url: '/auth/alipay/login', payload })
  }
}

export interface CertificateSet {
  /** Root bundle: an RSA root and an EC root, as Alipay's alipayRootCert.crt holds several. */
  rootBundle: string
  /** The sandbox ("Alipay") public key certificate, issued by the RSA root. */
  alipayPublicCert: string
  /** The app public key certificate, issued by the RSA root. */
  appCert: string
  /** A second app certificate for the same key, another serial: a stale one. */
  otherAppCert: string
}

/**
 * Certificates made with openssl for certificate mode: `alipayPrivateKey` and
 * `appPrivateKey` are PEM private keys whose public halves get certified.
 */
export function makeCertificates (alipayPrivateKey: string, appPrivateKey: string): CertificateSet {
  const dir = mkdtempSync(join(tmpdir(), 'mpa-alipay-certs-'))
  const path = (name: string): string => join(dir, name)
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  }
  try {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path('root.key'), '-out', path('root.crt'),
      '-subj', '/C=CN/O=Sandbox Ant/OU=Certification Authority/CN=Sandbox Alipay Root', '-days', '3650')
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path('ec.key'),
      '-out', path('ec.crt'), '-subj', '/C=CN/O=Sandbox Ant/CN=Sandbox Alipay EC Root', '-days', '3650')
    const issue = (name: string, key: string, subject: string, serial: string): string => {
      writeFileSync(path(`${name}.key`), key)
      openssl('req', '-new', '-key', path(`${name}.key`), '-subj', subject, '-out', path(`${name}.csr`))
      openssl('x509', '-req', '-in', path(`${name}.csr`), '-CA', path('root.crt'), '-CAkey', path('root.key'),
        '-set_serial', serial, '-days', '365', '-out', path(`${name}.crt`))
      return readFileSync(path(`${name}.crt`), 'utf8')
    }
    return {
      rootBundle: readFileSync(path('root.crt'), 'utf8') + readFileSync(path('ec.crt'), 'utf8'),
      alipayPublicCert: issue('alipay', alipayPrivateKey, '/C=CN/O=Sandbox Ant/CN=Sandbox Alipay Public Key', '0x4a1b2c3d4e5f'),
      appCert: issue('app', appPrivateKey, '/C=CN/O=Sandbox Merchant/CN=2021000000000001', '0x20210001'),
      otherAppCert: issue('stale', appPrivateKey, '/C=CN/O=Sandbox Merchant/CN=2021000000000001', '0x20210002')
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
