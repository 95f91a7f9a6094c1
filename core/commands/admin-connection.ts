// How CLI commands reach the admin contract: through a running gateway (mutual TLS
// with the client certificate) when one answers, so they work while `switchyard start`
// holds the embedded database and against remote deployments; otherwise by opening
// the backend in this process. Either way the calls are the same AdminService RPCs,
// guarded and audited the same.
import { readFile } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { join, resolve } from 'node:path'
import { randomUUID } from 'node:crypto'
import { Errors } from '../errors.ts'
import { loadConfig } from '../config/load.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import { createHttpAdminClient, type EventStreamOptions, type UnaryRpcName } from '../transport/http-client.ts'
import type { AdminEventT } from '../contract/messages.ts'
import { CERT_FILES } from '../transport/cert-files.ts'

export interface AdminConnection {
  /** 'gateway https://…' or 'local backend' */
  readonly via: string
  call<N extends UnaryRpcName> (name: N, request: RequestOf<N>): Promise<ResponseOf<N>>
  /** StreamEvents: yields until the stream ends (returns) or the connection fails (throws) */
  events (request: RequestOf<'StreamEvents'>, options?: EventStreamOptions): AsyncGenerator<AdminEventT>
  close (): Promise<void>
}

export interface ConnectOptions {
  config?: string | undefined
  /** gateway base URL; default https://<admin.httpAddr> */
  url?: string | undefined
  cert?: string | undefined
  key?: string | undefined
  cacert?: string | undefined
  /** skip the gateway and open the backend here */
  local?: boolean | undefined
  approval?: string | undefined
}

const CONNECTION_REFUSED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'EADDRNOTAVAIL'])

function isUnreachable (err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && CONNECTION_REFUSED.has(code)
}

async function readPem (path: string, what: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch {
    throw Errors.validation(`${what} not found at ${path} (run switchyard start once to generate development certificates, or pass ${flag})`)
  }
}

export async function connectAdmin (options: ConnectOptions): Promise<AdminConnection> {
  const loaded = await loadConfig({ file: options.config, env: process.env })
  const { config } = loaded
  const approvalToken = options.approval ?? process.env.SWITCHYARD_APPROVAL_TOKEN
  if (options.local !== true) {
    const certDir = join(config.dataDir, 'certs')
    const certPath = options.cert ?? process.env.SWITCHYARD_CLIENT_CERT ?? join(certDir, CERT_FILES.client)
    const keyPath = options.key ?? process.env.SWITCHYARD_CLIENT_KEY ?? join(certDir, CERT_FILES.clientKey)
    const caPath = options.cacert ?? config.admin.tls.ca ?? join(certDir, CERT_FILES.ca)
    const url = options.url ?? process.env.SWITCHYARD_GATEWAY_URL ?? `https://${config.admin.httpAddr}`
    const explicit = options.url !== undefined || process.env.SWITCHYARD_GATEWAY_URL !== undefined
    const haveCerts = explicit || await readFile(resolve(certPath)).then(() => true, () => false)
    if (haveCerts) {
      const client = createHttpAdminClient({
        url,
        ca: await readPem(resolve(caPath), 'CA certificate', '--cacert'),
        cert: await readPem(resolve(certPath), 'client certificate', '--client-cert'),
        key: await readPem(resolve(keyPath), 'client key', '--client-key'),
        timeoutMs: config.admin.requestTimeoutMs,
        ...(approvalToken === undefined ? {} : { approvalToken })
      })
      try {
        await client.call('GetHealth', {})
        return {
          via: `gateway ${url}`,
          call: (name, request) => client.call(name, request),
          events: (request, streamOptions) => client.events(request, streamOptions),
          close: async () => { client.close() }
        }
      } catch (err) {
        client.close()
        // Nothing listening: fall back to the backend, unless the caller named a gateway.
        if (explicit || !isUnreachable(err)) throw err
      }
    }
  }
  const { createSwitchyard } = await import('../app.ts')
  const sy = await createSwitchyard({ loaded, worker: false, demo: false })
  const actor = `local:${userInfo().username}`
  return {
    via: 'local backend',
    call: async (name, request) => {
      const method = sy.admin[name] as (req: unknown, ctx: { actor: string, requestId: string, approvalToken?: string }) => Promise<unknown>
      return await method(request, { actor, requestId: randomUUID(), ...(approvalToken === undefined ? {} : { approvalToken }) }) as ResponseOf<typeof name>
    },
    events: async function * (request, streamOptions) {
      const stream = sy.admin.StreamEvents(request, { actor, requestId: randomUUID(), ...(streamOptions?.signal === undefined ? {} : { signal: streamOptions.signal }) })
      await stream.ready
      yield * stream
    },
    close: () => sy.close()
  }
}
