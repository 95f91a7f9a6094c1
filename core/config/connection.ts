// The settings an admin command needs to reach a running deployment's gateway, and a
// fast way to find them without a config file. An admin command runs in a fresh
// process each time, and loading the config schema library takes several times as
// long as the rest of the call; without a file there is nothing for it to check but
// the environment's overrides. So: the built-in defaults (builtin-defaults.ts, checked
// against the schema by a test), the same applyEnvOverrides and resolveConfig as
// loadConfig, but no schema validation. Whatever this cannot read goes to loadConfig,
// which reports it; `switchyard start` and `config check` validate everything.
import { applyEnvOverrides } from './env.ts'
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
 * The connection settings of a deployment without a config file: the built-in
 * defaults with the environment's overrides, resolved as loadConfig resolves them.
 * null when an override cannot be read or resolved; loadConfig then says why.
 */
export function builtinConnectionConfig (env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): ConnectionConfig | null {
  const raw: Record<string, unknown> = {}
  const fromEnv = applyEnvOverrides(raw, env, cwd)
  if (fromEnv.problems.length > 0) return null
  try {
    const filled = withDefaults(raw, BUILTIN_DEFAULTS as unknown as Record<string, unknown>) as unknown as DefaultedConfig
    return connectionConfigOf(resolveConfig(filled, { configDir: cwd, cwd, fromFile: false }))
  } catch {
    return null
  }
}
