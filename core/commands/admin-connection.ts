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
import { connectionConfigOf, readConnectionConfig, type ConnectionConfig } from '../config/connection.ts'
import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import { createHttpAdminClient, type EventStreamOptions, type UnaryRpcName } from '../transport/http-client.ts'
import type { AdminEventT } from '../contract/messages.ts'
import { CERT_FILES } from '../transport/cert-files.ts'
import { hostPort, parseListenAddress } from '../transport/http/address.ts'
import type { LoadedConfig, LogLevel } from '../config/types.ts'
import { tlsFailure } from './tls-failure.ts'

export interface AdminConnection {
  /** 'gateway https://…' or 'local backend' */
  readonly via: string
  call<N extends UnaryRpcName> (name: N, request: RequestOf<N>): Promise<ResponseOf<N>>
  /** StreamEvents: yields until the stream ends (returns) or the connection fails (throws) */
  events (request: RequestOf<'StreamEvents'>, options?: EventStreamOptions): AsyncGenerator<AdminEventT>
  /** GetJobArtifact: the file's bytes as they come */
  artifact (request: RequestOf<'GetJobArtifact'>): AsyncGenerator<Buffer>
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

/** the configured level, raised to warn at least */
const LOCAL_LOG_LEVEL: Record<LogLevel, LogLevel> = { trace: 'warn', debug: 'warn', info: 'warn', warn: 'warn', error: 'error', fatal: 'fatal', silent: 'silent' }

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

/** Where the gateway of a config answers: a wildcard listen address is reached on loopback. */
export function gatewayUrlOf (httpAddr: string): string {
  const { host, port } = parseListenAddress(httpAddr, 'admin.httpAddr')
  if (port === 0) {
    throw Errors.validation(`admin.httpAddr is ${httpAddr}: the gateway listens on a port the OS picks, so the CLI cannot know it; pass --url https://host:port as \`switchyard start\` printed it`, { details: { field: 'admin.httpAddr' } })
  }
  const dial = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host
  return `https://${hostPort(dial, port)}`
}

export interface GatewayTarget {
  url: string
  ca: string
  cert: string
  key: string
  /** the caller named the gateway (--url, SWITCHYARD_GATEWAY_URL): never fall back to the backend */
  explicit: boolean
}

/**
 * The gateway and certificates a command uses, found as \`switchyard start\` with the
 * same config serves them: flags and SWITCHYARD_* variables first, then the config's
 * admin.httpAddr and admin.tls (ca, clientCert/clientKey), then the development
 * certificates start generates under <dataDir>/certs.
 */
export function gatewayTargetOf (config: ConnectionConfig, options: ConnectOptions, env: NodeJS.ProcessEnv = process.env): GatewayTarget {
  const certDir = join(config.dataDir, 'certs')
  const explicitUrl = options.url ?? env.SWITCHYARD_GATEWAY_URL
  return {
    url: explicitUrl ?? gatewayUrlOf(config.admin.httpAddr),
    ca: resolve(options.cacert ?? config.admin.tls.ca ?? join(certDir, CERT_FILES.ca)),
    cert: resolve(options.cert ?? env.SWITCHYARD_CLIENT_CERT ?? config.admin.tls.clientCert ?? join(certDir, CERT_FILES.client)),
    key: resolve(options.key ?? env.SWITCHYARD_CLIENT_KEY ?? config.admin.tls.clientKey ?? join(certDir, CERT_FILES.clientKey)),
    explicit: explicitUrl !== undefined
  }
}

async function loadFullConfig (options: ConnectOptions): Promise<LoadedConfig> {
  const { loadConfig } = await import('../config/load.ts')
  return await loadConfig({ file: options.config, env: process.env })
}

/**
 * The gateway's settings are read without the schema library (see
 * config/connection.ts); what cannot be read that way goes to the full loadConfig.
 */
async function connectionConfig (options: ConnectOptions): Promise<{ config: ConnectionConfig, loaded: LoadedConfig | null }> {
  const quick = await readConnectionConfig(options.config, process.env)
  if (quick !== null) return { config: quick, loaded: null }
  const loaded = await loadFullConfig(options)
  return { config: connectionConfigOf(loaded.config), loaded }
}

export async function connectAdmin (options: ConnectOptions): Promise<AdminConnection> {
  const found = await connectionConfig(options)
  const { config } = found
  const approvalToken = options.approval ?? process.env.SWITCHYARD_APPROVAL_TOKEN
  if (options.local !== true) {
    const target = gatewayTargetOf(config, options)
    const haveCerts = target.explicit || await readFile(target.cert).then(() => true, () => false)
    if (haveCerts) {
      const client = createHttpAdminClient({
        url: target.url,
        ca: await readPem(target.ca, 'CA certificate', '--cacert'),
        cert: await readPem(target.cert, 'client certificate', '--client-cert'),
        key: await readPem(target.key, 'client key', '--client-key'),
        timeoutMs: config.admin.requestTimeoutMs,
        ...(approvalToken === undefined ? {} : { approvalToken })
      })
      try {
        await client.call('GetHealth', {})
        return {
          via: `gateway ${target.url}`,
          call: (name, request) => client.call(name, request),
          events: (request, streamOptions) => client.events(request, streamOptions),
          artifact: request => client.artifact(request),
          close: async () => { client.close() }
        }
      } catch (err) {
        client.close()
        // Nothing listening: fall back to the backend, unless the caller named a gateway.
        if (target.explicit || !isUnreachable(err)) throw tlsFailure(err, target) ?? err
      }
    }
  }
  const { createSwitchyard } = await import('../app.ts')
  // The backend is opened here: every setting counts, so the config is fully checked.
  const loaded = found.loaded ?? await loadFullConfig(options)
  const full = loaded.config
  // A command's output is its answer: the platform logs only warnings and errors here.
  const quiet = { ...loaded, config: { ...full, log: { ...full.log, level: LOCAL_LOG_LEVEL[full.log.level] } } }
  const sy = await createSwitchyard({ loaded: quiet, worker: false, demo: false })
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
    artifact: async function * (request) {
      const stream = sy.admin.GetJobArtifact(request, { actor, requestId: randomUUID() })
      await stream.ready
      for await (const chunk of stream) yield Buffer.from(chunk.dataBase64, 'base64')
    },
    close: () => sy.close()
  }
}
