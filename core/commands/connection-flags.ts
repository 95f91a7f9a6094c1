import type { ConnectOptions } from './admin-connection.ts'

/** Flags every admin command accepts to find the gateway (or skip it). */
export const CONNECTION_FLAGS = {
  url: { type: 'string' },
  'client-cert': { type: 'string' },
  'client-key': { type: 'string' },
  cacert: { type: 'string' },
  approval: { type: 'string' },
  local: { type: 'boolean' },
  json: { type: 'boolean' }
} as const

/**
 * The config file a command uses: --config, else SWITCHYARD_CONFIG, else none (the
 * embedded default). Every command finds it the same way, so an admin command reaches
 * the deployment that `switchyard start` with the same file runs.
 */
export function configFileOf (values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const flag = values.config
  if (typeof flag === 'string' && flag !== '') return flag
  const fromEnv = env.SWITCHYARD_CONFIG
  return fromEnv === undefined || fromEnv.trim() === '' ? undefined : fromEnv.trim()
}

export function connectOptions (values: Record<string, string | boolean | undefined>): ConnectOptions {
  const str = (k: string): string | undefined => typeof values[k] === 'string' ? values[k] as string : undefined
  return { config: configFileOf(values), url: str('url'), cert: str('client-cert'), key: str('client-key'), cacert: str('cacert'), approval: str('approval'), local: values.local === true }
}
