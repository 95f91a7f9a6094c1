import { Errors } from '../../errors.ts'

// Listener addresses are written host:port (IPv6 as [::1]:port), as in the
// WORKER_ADMIN_*_ADDR variables.

export interface ListenAddress {
  host: string
  port: number
}

export function parseListenAddress (addr: string, field: string): ListenAddress {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(addr)
  const port = match === null ? NaN : Number(match[3])
  if (match === null || port > 65535) {
    throw Errors.validation(`${field}: "${addr}" must be host:port, e.g. 127.0.0.1:8081 or [::1]:8081`, { details: { field, value: addr } })
  }
  return { host: (match[1] ?? match[2]) as string, port }
}

export function hostPort (host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
