// `switchyard config check [file]`: the effective configuration in the file's own keys,
// secrets masked, so an operator can see exactly what a process would run with and
// paste it safely; handler modules are imported as start would import them.
import { access } from 'node:fs/promises'
import { stringify as stringifyYaml } from 'yaml'
import { loadHandlerModule } from '../worker/handlers.ts'
import { ConfigError } from './errors.ts'
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

export interface ConfigCheckResult {
  /** absolute path of the file checked, or null for the built-in defaults */
  file: string | null
  /** environment variables that were applied */
  env: string[]
  /** each handler module (absolute path) with the handler names it exports */
  handlers: Record<string, string[]>
  /** the effective config in the file's keys (defaults, overrides, absolute paths), secrets masked */
  config: Record<string, unknown>
}

/**
 * Validates `file` (or the built-in defaults) with the environment applied, and
 * imports each handler module as start would, so a module that is missing or exports
 * no handlers fails here, naming it (handlers[i]). Throws CONFIG_INVALID.
 */
export async function checkConfig (file?: string, env?: NodeJS.ProcessEnv): Promise<ConfigCheckResult> {
  const loaded = await loadConfig({ ...(file === undefined ? {} : { file }), ...(env === undefined ? {} : { env }) })
  const handlers: Record<string, string[]> = {}
  for (const [index, path] of loaded.config.handlers.entries()) {
    handlers[path] = await handlerNames(index, path)
  }
  return { file: loaded.source.file, env: loaded.source.env, handlers, config: maskSecrets(loaded.effective) as Record<string, unknown> }
}

async function handlerNames (index: number, path: string): Promise<string[]> {
  const where = `handlers[${index}]`
  if (!await access(path).then(() => true, () => false)) {
    throw ConfigError(`${where}: module ${path} not found`, { details: { field: where, path } })
  }
  try {
    return Object.keys(await loadHandlerModule(path))
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).replace(/^handlers module \S+: /, '').split('\n')[0] ?? ''
    throw ConfigError(`${where}: module ${path}: ${reason}`, { cause: err, details: { field: where, path } })
  }
}

/** `config check` as text: a "valid" comment, then the effective config as YAML in the file's keys. */
export function formatConfigCheck (result: ConfigCheckResult): string {
  const lines = [`# valid: ${result.file ?? 'built-in defaults (no config file)'}`]
  if (result.env.length > 0) lines.push(`# environment overrides: ${result.env.join(', ')}`)
  for (const [path, names] of Object.entries(result.handlers)) lines.push(`# handlers in ${path}: ${names.join(', ') || '(none)'}`)
  return lines.join('\n') + '\n' + stringifyYaml(result.config, { lineWidth: 0 })
}

/** The effective config of `file` (or the built-in defaults) as `config check` prints it. */
export async function configCheck (file?: string, env?: NodeJS.ProcessEnv): Promise<string> {
  return formatConfigCheck(await checkConfig(file, env))
}
