// A failed TLS handshake with the gateway, said as its likely cause: which URL, which
// files, and which mismatch (node's own words, e.g. "self-signed certificate in
// certificate chain", name neither). One line, as every CLI error.
import { defineError, isSwitchyardError, type SwitchyardError } from '../errors.ts'

const GatewayTlsFailed = defineError('GATEWAY_TLS_FAILED')

/** the server's certificate did not verify against our CA */
const UNTRUSTED_SERVER = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED'
])
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID'])

export interface TlsFiles {
  url: string
  ca: string
  cert: string
}

function codeOf (err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : ''
}

/** The GATEWAY_TLS_FAILED error for `err`, or null when it is not a handshake failure. */
export function tlsFailure (err: unknown, files: TlsFiles): SwitchyardError | null {
  if (isSwitchyardError(err)) return null
  const code = codeOf(err)
  const reason = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)
  const details = { url: files.url, ca: files.ca, clientCert: files.cert, reason: code || reason }
  if (UNTRUSTED_SERVER.has(code)) {
    return GatewayTlsFailed(`the gateway at ${files.url} presents a certificate not signed by the CA ${files.ca} (${reason}): it probably runs with another config or data directory than this command; pass the --config (or SWITCHYARD_CONFIG) that \`switchyard start\` uses, or --cacert with its CA`, { cause: err, details })
  }
  if (EXPIRED.has(code)) {
    return GatewayTlsFailed(`the gateway at ${files.url} presents a certificate that is not valid now (${reason}); renew its certificate (development ones: switchyard certs --force)`, { cause: err, details })
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return GatewayTlsFailed(`the gateway at ${files.url} presents a certificate for another name (${reason}); its certificate must name localhost`, { cause: err, details })
  }
  if (code === 'EPROTO' || /wrong version number|packet length too long/i.test(reason)) {
    return GatewayTlsFailed(`${files.url} does not answer TLS (${reason}): is it the gateway's address (admin.httpAddr)?`, { cause: err, details })
  }
  // The server verified, then hung up or sent an alert: it refused our client certificate.
  if (code === 'ECONNRESET' || /alert (unknown ca|bad certificate|certificate required|certificate unknown)|ERR_SSL_TLSV1[3]?_ALERT/i.test(reason + code)) {
    return GatewayTlsFailed(`the gateway at ${files.url} refused the client certificate ${files.cert} (${reason}): it is probably not signed by the CA the gateway trusts; pass the --config (or SWITCHYARD_CONFIG) that \`switchyard start\` uses, or --client-cert/--client-key of that deployment`, { cause: err, details })
  }
  return null
}
