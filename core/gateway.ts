// `switchyard gateway`: the HTTPS gateway, in front of a remote admin service
// (admin.grpcTarget / WORKER_ADMIN_GRPC_TARGET), and the web console when the
// admin-console plugin is configured. It loads no other plugin, opens no backend and
// runs no worker: it needs its certificates and the target, nothing else. The console
// calls the remote service through the same gRPC client as the gateway, so its users
// reach the service named (x-forwarded-identity) and with their session's role as a
// cap (x-forwarded-role) when the service lists this gateway in admin.trustedGateways.
import Fastify, { type FastifyInstance } from 'fastify'
import { resolveTls, VERSION } from './app.ts'
import { ConfigError } from './config/errors.ts'
import { loggerOptions } from './log/index.ts'
import { loadConfig } from './config/load.ts'
import type { LoadedConfig, ResolvedConfig } from './config/types.ts'
import type { CertPaths } from './transport/certs.ts'
import type { AdminListeners } from './transport/index.ts'
import { adminListenSettings, isConsolePluginSpec, listenErrorOf } from './listen-check.ts'
import type { RunningAdminFrontend } from './plugin/kinds.ts'

export interface StartGatewayProcessOptions {
  configFile?: string | undefined
  /** an already loaded config (tests); wins over configFile */
  loaded?: LoadedConfig
  env?: NodeJS.ProcessEnv
}

export interface GatewayProcess {
  readonly version: string
  readonly config: ResolvedConfig
  readonly configFile: string | null
  /** host:port of the remote admin service */
  readonly target: string
  readonly listeners: AdminListeners
  /** development certificates generated or reused because no TLS paths were configured */
  readonly devCertificates: { paths: CertPaths, created: boolean } | null
  /** the certificate presented to the admin service: its identity must be in the service's admin.trustedGateways */
  readonly clientCertificate: string
  /** the web console, when the admin-console plugin is configured */
  readonly frontends: RunningAdminFrontend[]
  readonly app: FastifyInstance
  close (): Promise<void>
}

/** The client certificate the gateway presents to the admin service: configured, else the development client, else the server certificate. */
function clientTlsOf (config: ResolvedConfig, dev: { paths: CertPaths } | null, serverCert: string, serverKey: string): { cert: string, key: string } {
  const { clientCert, clientKey } = config.admin.tls
  if (clientCert !== null && clientKey !== null) return { cert: clientCert, key: clientKey }
  if (dev !== null) return { cert: dev.paths.client, key: dev.paths.clientKey }
  return { cert: serverCert, key: serverKey }
}

export async function startGatewayProcess (options: StartGatewayProcessOptions = {}): Promise<GatewayProcess> {
  const loaded = options.loaded ?? await loadConfig({ file: options.configFile, env: options.env ?? process.env })
  const { config } = loaded
  const target = config.admin.grpcTarget
  if (target === null) {
    throw ConfigError('admin.grpcTarget: required by `switchyard gateway`, which serves no admin service of its own (set it or WORKER_ADMIN_GRPC_TARGET to the host:port of the workers\' admin gRPC listener)', {
      details: { field: 'admin.grpcTarget' }
    })
  }
  const { tls, dev } = await resolveTls(config)
  const clientTls = clientTlsOf(config, dev, tls.cert, tls.key)
  const app = Fastify({ logger: loggerOptions(config.log), pluginTimeout: 60_000 })
  // Only front ends: a backend, job source or runtime plugin has nothing to do here.
  const frontendSpecs = config.plugins.filter(isConsolePluginSpec)
  const frontends: RunningAdminFrontend[] = []
  let listeners: AdminListeners | null = null
  app.addHook('onClose', async () => {
    for (const frontend of frontends.splice(0).reverse()) await frontend.close()
    await listeners?.close()
  })
  try {
    if (frontendSpecs.length > 0) {
      const { loadPlugins } = await import('./plugin/index.ts')
      await loadPlugins(app, frontendSpecs, { config, configDir: loaded.configDir })
    }
    const { startAdminListeners } = await import('./transport/index.ts')
    try {
      listeners = await startAdminListeners({ config: { ...config.admin, tls }, clientTls, log: app.log, version: VERSION })
    } catch (err) {
      throw listenErrorOf(adminListenSettings(config.admin, { grpc: false }), err) ?? err
    }
    if (frontendSpecs.length > 0) {
      const { ensureHookRegistry } = await import('./plugin/hooks.ts')
      for (const frontend of ensureHookRegistry(app).adminFrontends()) {
        frontends.push(await frontend.start({ admin: listeners.admin, tls, version: VERSION, backend: `remote admin service at ${target}`, remoteTarget: target }))
      }
    }
    await app.ready()
  } catch (err) {
    await app.close().catch(() => {})
    throw err
  }
  return {
    version: VERSION,
    config,
    configFile: loaded.source.file,
    target,
    listeners,
    devCertificates: dev,
    clientCertificate: clientTls.cert,
    frontends,
    app,
    async close () { await app.close() }
  }
}
