import { readFile } from 'node:fs/promises'
import type { FastifyBaseLogger } from 'fastify'
import type { ResolvedAdmin } from '../config/types.ts'
import type { AdminService } from '../admin/types.ts'
import { createGrpcAdminClient, type GrpcAdminClient } from './grpc/client.ts'
import { startGrpcServer, type RunningGrpcServer, type TlsMaterial } from './grpc/server.ts'
import { createGateway, startGateway, type Gateway } from './http/gateway.ts'
import { DEFAULT_CALL_TIMEOUT_MS } from './http/call.ts'

// The admin listeners of one process: the gRPC server (unless this process is a
// gateway for a remote admin service) and the HTTPS gateway in front of either the
// local service or the remote one. Both are mutual TLS; nothing listens in plaintext.

export { createGateway, gatewayHttpsOptions, startGateway, OPENAPI_PATH, type Gateway, type GatewayOptions } from './http/gateway.ts'
export { startGrpcServer, grpcCallContext, type ForwardedClaim, type GrpcServerOptions, type RunningGrpcServer, type TlsMaterial } from './grpc/server.ts'
export { createGrpcAdminClient, type GrpcAdminClient, type GrpcAdminClientOptions } from './grpc/client.ts'
export { connectionIdentity, identityFromCertificate, identityOfSocket, parseSubjectAltNames, requireIdentity } from './identity.ts'
export { TransportErrors } from './http/call.ts'

export interface TlsPaths {
  cert: string
  key: string
  ca: string
}

/** the admin section of the resolved config, with the TLS paths already resolved (development certificates filled in) */
export type AdminListenerConfig = Omit<ResolvedAdmin, 'tls'> & { tls: TlsPaths }

export interface StartAdminListenersOptions {
  /** the local admin service; may be omitted only by a gateway for a remote one (config.grpcTarget) */
  service?: AdminService
  config: AdminListenerConfig
  log: FastifyBaseLogger
  /**
   * the certificate the gateway presents to a remote admin service (grpcTarget);
   * default: config.tls, which then must allow client authentication
   */
  clientTls?: { cert: string, key: string }
  /** identities whose `x-forwarded-identity` the gRPC server believes (see grpc/client.ts); default: config.trustedGateways */
  trustedGateways?: readonly string[]
  version?: string
  onRequestTimed?: (route: string, status: number, ms: number) => void
}

export interface AdminListeners {
  /** what the gateway calls: the local service, or the gRPC client of the remote one (grpcTarget) */
  admin: AdminService
  /** null when this process calls a remote admin service (grpcTarget) */
  grpcAddress: string | null
  httpAddress: string
  gateway: Gateway
  close (): Promise<void>
}

async function readTls (paths: TlsPaths): Promise<TlsMaterial> {
  const [cert, key, ca] = await Promise.all([readFile(paths.cert), readFile(paths.key), readFile(paths.ca)])
  return { cert, key, ca }
}

export async function startAdminListeners (options: StartAdminListenersOptions): Promise<AdminListeners> {
  const { config, log } = options
  const tls = await readTls(config.tls)
  // A call may make several bounded backend calls; the transport's own guard sits above them.
  const callTimeoutMs = Math.max(DEFAULT_CALL_TIMEOUT_MS, config.requestTimeoutMs * 3)
  let grpcServer: RunningGrpcServer | null = null
  let remote: GrpcAdminClient | null = null
  let gateway: Gateway | null = null
  const close = async (): Promise<void> => {
    // The gateway first: it may be calling the gRPC server.
    await gateway?.close()
    remote?.close()
    await grpcServer?.close()
  }
  try {
    let admin: AdminService
    if (config.grpcTarget === null) {
      if (options.service === undefined) throw new Error('startAdminListeners: a service is required unless admin.grpcTarget is set')
      admin = options.service
      grpcServer = await startGrpcServer({
        service: admin,
        addr: config.grpcAddr,
        tls,
        trustedGateways: options.trustedGateways ?? config.trustedGateways,
        maxMessageBytes: config.bodyLimitBytes,
        callTimeoutMs,
        onError: (err, context) => { log.error({ err }, `admin gRPC call ${context} failed`) },
        onUntrustedForwarder: (peer, claim) => {
          const claimed = [claim.identity === undefined ? null : `the identity ${claim.identity}`, claim.role === undefined ? null : `the role ${claim.role}`].filter(part => part !== null).join(' and ')
          log.warn({ peer, claimed: claim.identity, claimedRole: claim.role }, `admin gRPC caller ${peer} forwards ${claimed} but is not in admin.trustedGateways: its calls are audited as ${peer}, with its own role`)
        }
      })
      log.info(`admin gRPC (mutual TLS) listening on ${grpcServer.address}`)
      if (grpcServer.unimplemented.length > 0) log.warn(`the admin service does not implement ${grpcServer.unimplemented.join(', ')}; gRPC answers them UNIMPLEMENTED`)
    } else {
      const clientTls = options.clientTls === undefined
        ? tls
        : { ...tls, cert: await readFile(options.clientTls.cert), key: await readFile(options.clientTls.key) }
      remote = createGrpcAdminClient({ target: config.grpcTarget, tls: clientTls, timeoutMs: callTimeoutMs })
      admin = remote
      log.info(`admin gateway calls the admin service at ${config.grpcTarget}`)
    }
    gateway = createGateway({
      admin,
      tls,
      bodyLimitBytes: config.bodyLimitBytes,
      callTimeoutMs,
      logger: log,
      ...(options.version === undefined ? {} : { version: options.version }),
      ...(options.onRequestTimed === undefined ? {} : { onRequestTimed: options.onRequestTimed })
    })
    const httpAddress = await startGateway(gateway, config.httpAddr)
    log.info(`admin HTTPS gateway (mutual TLS) listening on https://${httpAddress}/admin/v1`)
    return { admin, grpcAddress: grpcServer?.address ?? null, httpAddress, gateway, close }
  } catch (err) {
    await close().catch(() => {})
    throw err
  }
}
