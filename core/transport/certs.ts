// Development certificates for mutual TLS: a CA, a server certificate for the local
// listeners and a client certificate for operators and the CLI. Built with
// @peculiar/x509 on Node's WebCrypto (no shell-out to openssl). ECDSA P-256 keeps
// generation fast enough to happen on a first `switchyard start`. The library (and the
// reflect-metadata polyfill it needs) loads only when a certificate is issued: a start
// that finds its certificates in place does not pay for it.
import type * as X509 from '@peculiar/x509'
import { randomBytes, webcrypto } from 'node:crypto'
import { isIP } from 'node:net'
import { access, chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CERT_FILES, type CertPaths } from './cert-files.ts'

let library: Promise<typeof X509> | null = null

function loadX509 (): Promise<typeof X509> {
  library ??= (async () => {
    await import('reflect-metadata')
    const x509 = await import('@peculiar/x509')
    // Node's WebCrypto is the standard one; the library's types name the DOM's globals.
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0])
    return x509
  })()
  return library
}

type CryptoKey = webcrypto.CryptoKey
type CryptoKeyPair = webcrypto.CryptoKeyPair

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const
const DAY_MS = 24 * 3600_000

export { CERT_FILES, type CertPaths }

export interface KeyPairPem {
  cert: string
  key: string
}

export interface IssueOptions {
  /** the issuing CA; omitted: the certificate is self-signed and is itself a CA */
  issuer?: KeyPairPem
  commonName: string
  /** subject alternative names */
  dnsNames?: string[]
  ipAddresses?: string[]
  uris?: string[]
  usage: 'ca' | 'server' | 'client'
  notBefore?: Date
  notAfter?: Date
}

export const DEV_CLIENT_IDENTITY = 'switchyard-admin'

export function certPaths (dir: string): CertPaths {
  return Object.fromEntries(Object.entries(CERT_FILES).map(([k, file]) => [k, join(dir, file)])) as CertPaths
}

async function exportKey (key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key))
  const body = der.toString('base64').match(/.{1,64}/g)?.join('\n') ?? ''
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`
}

async function importKey (pem: string): Promise<CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64')
  return await webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, true, ['sign'])
}

function distinguishedName (commonName: string): string {
  // Commas and equals signs would change the DN's structure.
  if (/[,=+<>#;"\\]/.test(commonName)) throw new Error(`certificate common name "${commonName}" contains a reserved character`)
  return `CN=${commonName}`
}

/** Issues one certificate (and its new key), signed by `issuer` or self-signed. */
export async function issueCertificate (options: IssueOptions): Promise<KeyPairPem> {
  const x509 = await loadX509()
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']) as CryptoKeyPair
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000)
  const notAfter = options.notAfter ?? new Date(Date.now() + (options.usage === 'ca' ? 3650 : 825) * DAY_MS)
  const extensions: X509.Extension[] = []
  if (options.usage === 'ca') {
    extensions.push(new x509.BasicConstraintsExtension(true, 0, true))
    extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true))
  } else {
    extensions.push(new x509.BasicConstraintsExtension(false, undefined, true))
    extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true))
    extensions.push(new x509.ExtendedKeyUsageExtension([options.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth], false))
  }
  const names: X509.JsonGeneralName[] = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(options.uris ?? []).map((value) => ({ type: 'url' as const, value }))
  ]
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false))
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey))

  const serialNumber = '01' + randomBytes(15).toString('hex')
  const subject = distinguishedName(options.commonName)
  let cert: X509.X509Certificate
  if (options.issuer === undefined) {
    cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber, name: subject, notBefore, notAfter, signingAlgorithm: ALGORITHM, keys, extensions })
  } else {
    const issuerCert = new x509.X509Certificate(options.issuer.cert)
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerCert))
    cert = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject,
      issuer: issuerCert.subject,
      notBefore,
      notAfter,
      signingAlgorithm: ALGORITHM,
      publicKey: keys.publicKey,
      signingKey: await importKey(options.issuer.key),
      extensions
    })
  }
  return { cert: cert.toString('pem') + '\n', key: await exportKey(keys.privateKey) }
}

async function exists (path: string): Promise<boolean> {
  try { await access(path); return true } catch { return false }
}

async function writeSecret (path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 })
  await chmod(path, 0o600)
}

/** The variable naming the development server certificate's extra host names and addresses. */
export const CERT_HOSTS_ENV = 'SWITCHYARD_CERT_HOSTS'
const MAX_CERT_HOSTS = 100
const DNS_NAME = /^(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i

/**
 * Host names and IP addresses, comma-separated, that a server certificate names beside
 * localhost: the names clients dial it by in a container network or a cluster
 * (`switchyard-admin`, `switchyard-admin.jobs.svc`), since a gateway checks the admin
 * service's certificate against the host of WORKER_ADMIN_GRPC_TARGET.
 */
export function parseCertHosts (raw: string | undefined): { dnsNames: string[], ipAddresses: string[] } {
  const dnsNames: string[] = []
  const ipAddresses: string[] = []
  const entries = (raw ?? '').split(',').map(entry => entry.trim()).filter(entry => entry !== '')
  if (entries.length > MAX_CERT_HOSTS) throw new Error(`${CERT_HOSTS_ENV}: at most ${MAX_CERT_HOSTS} host names, got ${entries.length}`)
  for (const entry of entries) {
    if (isIP(entry) !== 0) ipAddresses.push(entry)
    else if (DNS_NAME.test(entry)) dnsNames.push(entry.toLowerCase())
    else throw new Error(`${CERT_HOSTS_ENV}: ${JSON.stringify(entry)} is neither a DNS name nor an IP address (expected e.g. switchyard-admin,10.0.0.5)`)
  }
  return { dnsNames, ipAddresses }
}

/**
 * Creates a development CA, a server certificate (SAN 127.0.0.1, ::1, localhost and
 * whatever SWITCHYARD_CERT_HOSTS adds) and a client certificate in `dir`. Existing files are kept unless `overwrite` is set,
 * so restarts reuse the certificates operators already configured in their tools.
 */
export async function ensureDevCertificates (dir: string, options: { overwrite?: boolean, clientIdentity?: string, env?: NodeJS.ProcessEnv } = {}): Promise<{ paths: CertPaths, created: boolean }> {
  const paths = certPaths(dir)
  const extra = parseCertHosts((options.env ?? process.env)[CERT_HOSTS_ENV])
  const present = await Promise.all(Object.values(paths).map(exists))
  if (!options.overwrite && present.every(Boolean)) return { paths, created: false }
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const ca = await issueCertificate({ commonName: 'Switchyard development CA', usage: 'ca' })
  const server = await issueCertificate({
    issuer: ca,
    commonName: 'localhost',
    usage: 'server',
    dnsNames: ['localhost', ...extra.dnsNames.filter(name => name !== 'localhost')],
    ipAddresses: ['127.0.0.1', '::1', ...extra.ipAddresses.filter(ip => ip !== '127.0.0.1' && ip !== '::1')]
  })
  const identity = options.clientIdentity ?? DEV_CLIENT_IDENTITY
  const client = await issueCertificate({ issuer: ca, commonName: identity, usage: 'client', dnsNames: [identity] })
  await writeFile(paths.ca, ca.cert)
  await writeSecret(paths.caKey, ca.key)
  await writeFile(paths.server, server.cert)
  await writeSecret(paths.serverKey, server.key)
  await writeFile(paths.client, client.cert)
  await writeSecret(paths.clientKey, client.key)
  return { paths, created: true }
}

export async function readKeyPair (certPath: string, keyPath: string): Promise<KeyPairPem> {
  return { cert: await readFile(certPath, 'utf8'), key: await readFile(keyPath, 'utf8') }
}
