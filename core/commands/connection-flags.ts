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

export function connectOptions (values: Record<string, string | boolean | undefined>): ConnectOptions {
  const str = (k: string): string | undefined => typeof values[k] === 'string' ? values[k] as string : undefined
  return { config: str('config'), url: str('url'), cert: str('client-cert'), key: str('client-key'), cacert: str('cacert'), approval: str('approval'), local: values.local === true }
}
