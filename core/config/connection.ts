// The settings an admin command needs to reach a running deployment's gateway, and a
// fast way to find them. An admin command runs in a fresh process each time, and
// loading the config schema library takes several times as long as the rest of the
// call. So the file (if any) is read as loadConfig reads it, the environment applied
// with the same applyEnvOverrides, what is missing filled from the built-in defaults
// (builtin-defaults.ts, checked against the schema by a test) and the result resolved
// by the same resolveConfig, but without schema validation: the command only dials the
// gateway. Whatever this cannot read goes to loadConfig, which reports it (and is what
// opening the backend locally uses); `switchyard start` and `config check` validate.
import { dirname, resolve } from 'node:path'
import { applyEnvOverrides } from './env.ts'
import { readRawConfig } from './read-file.ts'
import { resolveConfig } from './resolve.ts'
import { BUILTIN_DEFAULTS } from './builtin-defaults.ts'
import type { DefaultedConfig } from './schema.ts'
import type { ResolvedConfig } from './types.ts'

/** what finding and calling the gateway reads from a config */
export interface ConnectionConfig {
  dataDir: string
  admin: {
    httpAddr: string
    tls: Pick<ResolvedConfig['admin']['tls'], 'ca' | 'clientCert' | 'clientKey'>
    requestTimeoutMs: number
  }
}

export function connectionConfigOf (config: ResolvedConfig): ConnectionConfig {
  const { ca, clientCert, clientKey } = config.admin.tls
  return { dataDir: config.dataDir, admin: { httpAddr: config.admin.httpAddr, tls: { ca, clientCert, clientKey }, requestTimeoutMs: config.admin.requestTimeoutMs } }
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** fills what `raw` lacks from `defaults`, object by object, as the schema's defaults do */
function withDefaults (raw: Record<string, unknown>, defaults: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw }
  for (const [key, value] of Object.entries(defaults)) {
    const own = out[key]
    if (own === undefined) out[key] = structuredClone(value)
    else if (isPlainObject(own) && isPlainObject(value)) out[key] = withDefaults(own, value)
  }
  return out
}

/**
 * The connection settings of the deployment `file` (or, without one, the built-in
 * defaults) configures, with the environment's overrides, resolved as loadConfig
 * resolves them. null when the file or an override cannot be read or resolved;
 * loadConfig then says why.
 */
export async function readConnectionConfig (file: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Promise<ConnectionConfig | null> {
  const path = file === undefined ? null : resolve(cwd, file)
  try {
    const raw = path === null ? {} : await readRawConfig(path)
    const fromEnv = applyEnvOverrides(raw, env, cwd)
    if (fromEnv.problems.length > 0) return null
    const filled = withDefaults(raw, BUILTIN_DEFAULTS as unknown as Record<string, unknown>) as unknown as DefaultedConfig
    return connectionConfigOf(resolveConfig(filled, { configDir: path === null ? cwd : dirname(path), cwd, fromFile: path !== null }))
  } catch {
    return null
  }
}
