import { once } from 'node:events'
import * as grpc from '@grpc/grpc-js'
import { isSwitchyardError } from '../../errors.ts'
import { RPC_LIST, type RpcDefinition } from '../../contract/rpcs.ts'
import { ADMIN_SERVICE_NAME } from '../../contract/drift.ts'
import type { AdminService, CallContext, ServerStream } from '../../admin/types.ts'
import { requireIdentity } from '../identity.ts'
import { DEFAULT_CALL_TIMEOUT_MS, requestIdFrom, unimplementedRpcs, withCallDeadline } from '../http/call.ts'
import { hostPort, parseListenAddress } from '../http/address.ts'
import { adminRpcCodec, adminServiceDefinition } from './proto.ts'
import { APPROVAL_METADATA_KEY, FORWARDED_IDENTITY_METADATA_KEY, FORWARDED_ROLE_METADATA_KEY, REQUEST_ID_METADATA_KEY, toGrpcError } from './status.ts'

// worker.v1.AdminService over gRPC with mutual TLS only. Every method of the proto
// service is bound by name to the AdminService method of the same name; the server
// only turns metadata and the peer certificate into a CallContext, google.protobuf.Value
// fields into JSON values (and back), and errors into gRPC statuses. Guards,
// validation and audit live in the service.

export interface TlsMaterial {
  cert: string | Buffer
  key: string | Buffer
  ca: string | Buffer
}

export interface GrpcServerOptions {
  service: AdminService
  /** host:port; port 0 picks a free port */
  addr: string
  tls: TlsMaterial
  /**
   * identities (certificate identities) of gateways allowed to name the end user in
   * `x-forwarded-identity` metadata; anyone else's header is ignored. Default: none.
   */
  trustedGateways?: readonly string[]
  /** bound on one unary call (default 30 s); the service bounds its backend calls itself */
  callTimeoutMs?: number
  /** largest request message accepted (default 4 MiB) */
  maxMessageBytes?: number
  /** failures that are not SwitchyardErrors (bugs, serialization), for the log */
  onError?: (err: unknown, context: string) => void
  /** a caller that is not a trusted gateway named someone else or claimed a role; called once per such caller identity */
  onUntrustedForwarder?: (peer: string, claim: ForwardedClaim) => void
}

/** what a caller that is not a trusted gateway claimed in `x-forwarded-identity` / `x-forwarded-role` */
export interface ForwardedClaim {
  identity?: string
  role?: string
}

export interface RunningGrpcServer {
  /** host:port actually bound */
  address: string
  port: number
  /** RPCs of the proto the service has no method for; gRPC answers them UNIMPLEMENTED */
  unimplemented: string[]
  close (): Promise<void>
}

const FORWARDED_IDENTITY = /^[\x21-\x7e][\x20-\x7e]{0,255}$/
/** longer than any role name: a longer claim is refused as unknown anyway, and audited short */
const MAX_ROLE_CHARS = 32
const SHUTDOWN_GRACE_MS = 5_000
const MAX_UNTRUSTED_REPORTED = 100
const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>

function metadataValue (call: AnyCall, key: string): string | undefined {
  const value = call.metadata.get(key)[0]
  return typeof value === 'string' && value !== '' ? value : undefined
}

function toBuffer (value: string | Buffer): Buffer {
  return typeof value === 'string' ? Buffer.from(value) : value
}

/**
 * The CallContext of a gRPC call: the verified peer, or the end user its trusted
 * gateway names (then `via` is the gateway). Anyone else's claim is not believed: the
 * peer is the actor, and the claim rides along as `untrustedForwardedIdentity` so the
 * audit record shows it. A role claim (`x-forwarded-role`) is the same: from a trusted
 * gateway it becomes `forwardedRole`, which the service's guards use only to lower the
 * role (admin/guards.ts effectiveRole); from anyone else it is ignored and audited.
 */
export function grpcCallContext (call: AnyCall, requestId: string, trustedGateways: ReadonlySet<string>): CallContext {
  const auth = call.getAuthContext()
  const peer = requireIdentity(auth?.sslPeerCertificate, auth?.transportSecurityType === 'ssl')
  const trusted = trustedGateways.has(peer)
  const forwarded = metadataValue(call, FORWARDED_IDENTITY_METADATA_KEY)
  const role = metadataValue(call, FORWARDED_ROLE_METADATA_KEY)?.slice(0, MAX_ROLE_CHARS)
  const approvalToken = metadataValue(call, APPROVAL_METADATA_KEY)
  const base = {
    requestId,
    ...(approvalToken === undefined ? {} : { approvalToken }),
    ...(role === undefined ? {} : trusted ? { forwardedRole: role } : { untrustedForwardedRole: role })
  }
  if (forwarded === undefined || forwarded === peer) return { actor: peer, ...base }
  if (trusted && FORWARDED_IDENTITY.test(forwarded)) return { actor: forwarded, via: peer, ...base }
  return { actor: peer, untrustedForwardedIdentity: forwarded.slice(0, 256), ...base }
}

function responseMetadata (requestId: string): grpc.Metadata {
  const metadata = new grpc.Metadata()
  metadata.set(REQUEST_ID_METADATA_KEY, requestId)
  return metadata
}

export async function startGrpcServer (options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const { service } = options
  const trusted = new Set(options.trustedGateways ?? [])
  const callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS
  const onError = options.onError ?? (() => {})
  const definition = adminServiceDefinition()
  const streams = new Set<AbortController>()
  const untrustedSeen = new Set<string>()

  function contextOf (call: AnyCall, requestId: string): CallContext {
    const ctx = grpcCallContext(call, requestId, trusted)
    const identity = ctx.untrustedForwardedIdentity
    const role = ctx.untrustedForwardedRole
    // Reported once per caller (and a bounded number of callers): a misconfigured gateway forwards on every call.
    if ((identity !== undefined || role !== undefined) && !untrustedSeen.has(ctx.actor) && untrustedSeen.size < MAX_UNTRUSTED_REPORTED) {
      untrustedSeen.add(ctx.actor)
      options.onUntrustedForwarder?.(ctx.actor, { ...(identity === undefined ? {} : { identity }), ...(role === undefined ? {} : { role }) })
    }
    return ctx
  }

  function report (err: unknown, def: RpcDefinition): void {
    if (!isSwitchyardError(err)) onError(err, `${ADMIN_SERVICE_NAME}/${def.name}`)
  }

  function unary (def: RpcDefinition): grpc.handleUnaryCall<unknown, unknown> {
    const method = service[def.name as keyof AdminService] as (request: unknown, ctx: CallContext) => Promise<unknown>
    const codec = adminRpcCodec(def.name)
    return (call, callback) => {
      const requestId = requestIdFrom(metadataValue(call, REQUEST_ID_METADATA_KEY))
      const answer = async (): Promise<unknown> => {
        const ctx = contextOf(call, requestId)
        // JSON values out of google.protobuf.Value; the service validates them as it does for the gateway
        const request = codec.requestFromWire(call.request)
        return codec.responseToWire(await withCallDeadline(method.call(service, request, ctx), callTimeoutMs, def.name))
      }
      answer().then(
        response => {
          call.sendMetadata(responseMetadata(requestId))
          callback(null, response)
        },
        err => {
          report(err, def)
          callback(toGrpcError(err, requestId))
        })
    }
  }

  function serverStream (def: RpcDefinition): grpc.handleServerStreamingCall<unknown, unknown> {
    const method = service[def.name as keyof AdminService] as unknown as (request: unknown, ctx: CallContext) => ServerStream<unknown>
    const codec = adminRpcCodec(def.name)
    return call => {
      const requestId = requestIdFrom(metadataValue(call, REQUEST_ID_METADATA_KEY))
      const abort = new AbortController()
      streams.add(abort)
      call.on('cancelled', () => abort.abort())
      const pump = async (): Promise<void> => {
        const ctx = { ...contextOf(call, requestId), signal: abort.signal }
        const stream = method.call(service, codec.requestFromWire(call.request), ctx)
        await withCallDeadline(stream.ready, callTimeoutMs, def.name)
        // Headers go out once the call is authorised, so a client knows the stream is open.
        call.sendMetadata(responseMetadata(requestId))
        for await (const item of stream) {
          if (abort.signal.aborted) break
          if (!call.write(codec.responseToWire(item))) await once(call, 'drain', { signal: abort.signal })
        }
      }
      pump().then(
        () => { if (!call.cancelled) call.end() },
        err => {
          if (abort.signal.aborted || call.cancelled) {
            if (!call.cancelled) call.end()
            return
          }
          report(err, def)
          call.emit('error', toGrpcError(err, requestId))
        }).finally(() => {
        abort.abort()
        streams.delete(abort)
      })
    }
  }

  const table = new Map(RPC_LIST.map(def => [def.name, def]))
  for (const name of Object.keys(definition)) {
    if (!table.has(name)) throw new Error(`${ADMIN_SERVICE_NAME}/${name} is in admin.proto but not in the RPC table`)
  }
  // A method the service lacks is left unbound: grpc-js answers it UNIMPLEMENTED, which
  // is also what an older server says to a newer client.
  const unimplemented = unimplementedRpcs(service, Object.keys(definition))
  const implementation: grpc.UntypedServiceImplementation = {}
  for (const def of table.values()) {
    if (unimplemented.includes(def.name) || definition[def.name] === undefined) continue
    implementation[def.name] = def.stream === true ? serverStream(def) : unary(def)
  }

  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  const server = new grpc.Server({ 'grpc.max_receive_message_length': maxMessageBytes })
  server.addService(definition, implementation)
  // `true`: the handshake requires a client certificate signed by `ca`.
  const credentials = grpc.ServerCredentials.createSsl(
    toBuffer(options.tls.ca),
    [{ private_key: toBuffer(options.tls.key), cert_chain: toBuffer(options.tls.cert) }],
    true
  )
  const { host } = parseListenAddress(options.addr, 'admin gRPC address')
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.addr, credentials, (err, bound) => { if (err === null) resolve(bound); else reject(err) })
  })

  let closing: Promise<void> | null = null
  return {
    address: hostPort(host, port),
    port,
    unimplemented,
    close () {
      closing ??= (async () => {
        for (const abort of streams) abort.abort()
        await new Promise<void>(resolve => {
          const force = setTimeout(() => { server.forceShutdown(); resolve() }, SHUTDOWN_GRACE_MS)
          server.tryShutdown(() => { clearTimeout(force); resolve() })
        })
      })()
      return closing
    }
  }
}
