// Listener addresses are settings: when one cannot be bound, the error names the
// setting and its environment variable, in one line, before anything slow (opening
// the backend, initialising an embedded database) has started.
import { createServer } from 'node:net'
import { defineError, isSwitchyardError, type SwitchyardError } from './errors.ts'
import { parseListenAddress } from './transport/http/address.ts'

export const AddressInUse = defineError('ADDRESS_IN_USE')

export interface ListenSetting {
  /** the config key, e.g. admin.httpAddr */
  key: string
  /** the environment variable that overrides it */
  env: string
  /** host:port as configured */
  addr: string
}

/** The listeners a process will open: the gateway's, and the gRPC service's unless it only forwards to one. */
export function adminListenSettings (admin: { httpAddr: string, grpcAddr: string }, options: { grpc: boolean }): ListenSetting[] {
  const settings: ListenSetting[] = [{ key: 'admin.httpAddr', env: 'WORKER_ADMIN_HTTP_ADDR', addr: admin.httpAddr }]
  if (options.grpc) settings.push({ key: 'admin.grpcAddr', env: 'WORKER_ADMIN_GRPC_ADDR', addr: admin.grpcAddr })
  return settings
}

/** whether a plugin entry is the web console (admin-console), the one front-end plugin `switchyard gateway` loads */
export function isConsolePluginSpec (plugin: { name: string }): boolean {
  return plugin.name === 'admin-console' || plugin.name === '@switchyard/admin-console'
}

/** The web console's listener, when the admin-console plugin is configured (start and gateway serve it). */
export function consoleListenSetting (config: { plugins: ReadonlyArray<{ name: string }>, console: { addr: string } }): ListenSetting | null {
  const configured = config.plugins.some(isConsolePluginSpec)
  return configured ? { key: 'console.addr', env: 'SWITCHYARD_CONSOLE_ADDR', addr: config.console.addr } : null
}

const REASONS: Record<string, string> = {
  EADDRINUSE: 'is in use by another process (another switchyard start?)',
  EACCES: 'may not be bound by this user (a port below 1024?)',
  EADDRNOTAVAIL: 'is not an address of this machine'
}

/** node's errno code, also when only the message carries it (grpc-js reports bind failures so) */
function errnoOf (err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && code in REASONS) return code
  const message = err instanceof Error ? err.message : ''
  return /\b(EADDRINUSE|EACCES|EADDRNOTAVAIL)\b/.exec(message)?.[1] ?? null
}

/** The error naming the setting of the listener that failed with `err`, if it is a bind failure. */
export function listenErrorOf (settings: readonly ListenSetting[], err: unknown): SwitchyardError | null {
  const message = err instanceof Error ? err.message : ''
  const setting = settings.find(s => message.includes(s.addr)) ?? (settings.length === 1 ? settings[0] : undefined)
  return setting === undefined ? null : listenError(setting, err)
}

/** The error naming the setting, or null when `err` is not a bind failure. */
export function listenError (setting: ListenSetting, err: unknown): SwitchyardError | null {
  if (isSwitchyardError(err)) return null
  const code = errnoOf(err)
  const reason = code === null ? undefined : REASONS[code]
  if (reason === undefined) return null
  return AddressInUse(`${setting.key} ${setting.addr} ${reason}: stop that process, or set another host:port in ${setting.key} or ${setting.env}`, {
    cause: err,
    details: { field: setting.key, env: setting.env, addr: setting.addr, reason: code }
  })
}

function probe (setting: ListenSetting): Promise<void> {
  const { host, port } = parseListenAddress(setting.addr, setting.key)
  // Port 0 takes whatever port is free: nothing to check.
  if (port === 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', (err) => { reject(listenError(setting, err) ?? err) })
    server.listen({ host, port, exclusive: true }, () => { server.close(() => { resolve() }) })
  })
}

/**
 * Binds and releases each address, so a taken port fails start-up at once, not after
 * the backend opened. The listeners bind moments later; a process that takes the port
 * in between still gets the same error from the listener itself (see listenError).
 */
export async function assertListenAddressesFree (settings: readonly ListenSetting[]): Promise<void> {
  for (const setting of settings) await probe(setting)
}
