// The file names of the development certificates, apart from the code that makes
// them: a CLI command that only reads them does not load the X.509 library.
export const CERT_FILES = {
  ca: 'ca.pem',
  caKey: 'ca-key.pem',
  server: 'server.pem',
  serverKey: 'server-key.pem',
  client: 'client.pem',
  clientKey: 'client-key.pem'
} as const

export type CertPaths = { [K in keyof typeof CERT_FILES]: string }
