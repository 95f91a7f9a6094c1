// `switchyard config check [file]`: the effective configuration, secrets masked, so
// an operator can see exactly what a process would run with and paste it safely.
import { loadConfig } from './load.ts'

export const MASK = '***'

const SECRET_KEY = /password|passphrase|secret|token|credential|api[-_]?key|private[-_]?key/i
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/

/** Hides the password of a URL-shaped string (redis://:pw@host, postgres://user:pw@host/db). */
export function maskUrlPassword (text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):([^@/?#\s]*)@/gi, (_match, head: string) => `${head}:${MASK}@`)
}

/**
 * A deep copy with secrets replaced: string values under keys that name a secret,
 * PEM private-key contents, and passwords inside URLs. Paths to key files are not
 * secrets and stay visible (tls.key is a path).
 */
export function maskSecrets (value: unknown, key = ''): unknown {
  if (typeof value === 'string') {
    if (SECRET_KEY.test(key) || PEM_PRIVATE_KEY.test(value)) return MASK
    return maskUrlPassword(value)
  }
  if (Array.isArray(value)) return value.map(item => maskSecrets(item, key))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [childKey, child] of Object.entries(value)) out[childKey] = maskSecrets(child, childKey)
    return out
  }
  return value
}

/** The effective config of `file` (or the built-in defaults) as pretty JSON with secrets masked. */
export async function configCheck (file?: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const { config } = await loadConfig({ ...(file === undefined ? {} : { file }), ...(env === undefined ? {} : { env }) })
  return JSON.stringify(maskSecrets(config), null, 2)
}
