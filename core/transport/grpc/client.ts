import * as grpc from '@grpc/grpc-js'
import { RPC_LIST, type RpcDefinition } from '../../contract/rpcs.ts'
import { validateRequest } from '../../contract/validate.ts'
import type { AdminService, CallContext, ServerStream } from '../../admin/types.ts'
import { DEFAULT_CALL_TIMEOUT_MS } from '../http/call.ts'
import { adminRpcCodec, adminServiceDefinition } from './proto.ts'
import type { TlsMaterial } from './server.ts'
import { APPROVAL_METADATA_KEY, FORWARDED_IDENTITY_METADATA_KEY, FORWARDED_ROLE_METADATA_KEY, REQUEST_ID_METADATA_KEY, fromGrpcError } from './status.ts'

// An AdminService that is a remote worker.v1.AdminService: the gateway uses it when
// WORKER_ADMIN_GRPC_TARGET is set, so it can run apart from the workers. Failures come
// back as the SwitchyardErrors the server raised (code, status, details).
//
// Identity: the server sees this client's certificate. The caller's own identity
// (ctx.actor) travels in `x-forwarded-identity`, which the server honours only when
// this client's certificate identity is one of its `trustedGateways`; otherwise the
// gateway's certificate identity is the actor of every call. The role a front end in
// this process granted the caller (ctx.grantedRole, the console session's role)
// travels in `x-forwarded-role`; the server takes it from a trusted gateway only, and
// only as a cap on what its own admin.roles allow (admin/guards.ts effectiveRole).

export interface GrpcAdminClientOptions {
  /** host:port of the admin gRPC server */
  target: string
  /** ca verifies the server; cert and key are this client's identity */
  tls: TlsMaterial
  /** deadline of one unary call (default 30 s) */
  timeoutMs?: number
  /** the name the server certificate must carry when it differs from the target host */
  serverName?: string
}

export interface GrpcAdminClient extends AdminService {
  close (): void
}

/** buffered server-stream items between grpc-js events and an async iterator; pauses the call when the reader lags */
class StreamBuffer<T> {
  private readonly items: T[] = []
  private finished = false
  private failure: unknown = null
  private wake: (() => void) | null = null

  constructor (private readonly call: grpc.ClientReadableStream<T>, private readonly highWater = 256) {}

  push (item: T): void {
    this.items.push(item)
    if (this.items.length >= this.highWater) this.call.pause()
    this.notify()
  }

  end (failure: unknown = null): void {
    if (this.finished) return
    this.finished = true
    this.failure = failure
    this.notify()
  }

  private notify (): void {
    const wake = this.wake
    this.wake = null
    wake?.()
  }

  async * drain (): AsyncGenerator<T> {
    for (;;) {
      const item = this.items.shift()
      if (item !== undefined) {
        if (this.items.length < this.highWater / 2 && this.call.isPaused()) this.call.resume()
        yield item
        continue
      }
      if (this.finished) {
        if (this.failure !== null) throw this.failure
        return
      }
      await new Promise<void>(resolve => { this.wake = resolve })
    }
  }
}

function toBuffer (value: string | Buffer): Buffer {
  return typeof value === 'string' ? Buffer.from(value) : value
}

function metadataFor (ctx: CallContext): grpc.Metadata {
  const metadata = new grpc.Metadata()
  if (typeof ctx.requestId === 'string' && ctx.requestId !== '') metadata.set(REQUEST_ID_METADATA_KEY, ctx.requestId)
  if (typeof ctx.approvalToken === 'string' && ctx.approvalToken !== '') metadata.set(APPROVAL_METADATA_KEY, ctx.approvalToken)
  if (typeof ctx.actor === 'string' && ctx.actor !== '') metadata.set(FORWARDED_IDENTITY_METADATA_KEY, ctx.actor)
  if (typeof ctx.grantedRole === 'string') metadata.set(FORWARDED_ROLE_METADATA_KEY, ctx.grantedRole)
  return metadata
}

export function createGrpcAdminClient (options: GrpcAdminClientOptions): GrpcAdminClient {
  const definition = adminServiceDefinition()
  const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS
  const credentials = grpc.credentials.createSsl(toBuffer(options.tls.ca), toBuffer(options.tls.key), toBuffer(options.tls.cert))
  const channelOptions: grpc.ChannelOptions = options.serverName === undefined ? {} : { 'grpc.ssl_target_name_override': options.serverName }
  const client = new grpc.Client(options.target, credentials, channelOptions)

  function unary (def: RpcDefinition) {
    const method = definition[def.name] as grpc.MethodDefinition<unknown, unknown>
    const codec = adminRpcCodec(def.name)
    return async (request: unknown, ctx: CallContext): Promise<unknown> => {
      // The same schema check the service makes, before protobuf encoding could
      // silently drop an unknown field or coerce a wrong type.
      const wire = codec.requestToWire(validateRequest(def, request))
      return await new Promise((resolve, reject) => {
        const call = client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, wire, metadataFor(ctx), { deadline: Date.now() + timeoutMs },
          (err, response) => {
            if (err !== null && err !== undefined) { reject(fromGrpcError(err, def.name)); return }
            try { resolve(codec.responseFromWire(response)) } catch (failure) { reject(failure) }
          })
        if (ctx.signal !== undefined) {
          if (ctx.signal.aborted) call.cancel()
          else ctx.signal.addEventListener('abort', () => call.cancel(), { once: true })
        }
      })
    }
  }

  function serverStream (def: RpcDefinition) {
    const method = definition[def.name] as grpc.MethodDefinition<unknown, unknown>
    const codec = adminRpcCodec(def.name)
    return (request: unknown, ctx: CallContext): ServerStream<unknown> => {
      let wire: unknown
      try {
        wire = codec.requestToWire(validateRequest(def, request))
      } catch (err) {
        const ready = Promise.reject(err)
        ready.catch(() => {})
        return { ready, async * [Symbol.asyncIterator] () { throw err } }
      }
      const call = client.makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, wire, metadataFor(ctx), {})
      const buffer = new StreamBuffer<unknown>(call as grpc.ClientReadableStream<unknown>)
      let cancelledHere = false
      const cancel = (): void => { cancelledHere = true; call.cancel() }
      if (ctx.signal !== undefined) {
        if (ctx.signal.aborted) cancel()
        else ctx.signal.addEventListener('abort', cancel, { once: true })
      }
      const ready = new Promise<void>((resolve, reject) => {
        // The server sends its headers once the call is authorised and positioned.
        call.once('metadata', () => resolve())
        call.once('error', err => reject(fromGrpcError(err, def.name)))
        call.once('end', () => resolve())
      })
      ready.catch(() => {})
      call.on('data', (item: unknown) => {
        try {
          buffer.push(codec.responseFromWire(item))
        } catch (err) {
          buffer.end(err)
          cancel()
        }
      })
      call.on('error', (err: grpc.ServiceError) => {
        buffer.end(cancelledHere && err.code === grpc.status.CANCELLED ? null : fromGrpcError(err, def.name))
      })
      call.on('end', () => buffer.end())
      return {
        ready,
        async * [Symbol.asyncIterator] () {
          try {
            yield * buffer.drain()
          } finally {
            ctx.signal?.removeEventListener('abort', cancel)
            cancel()
          }
        }
      }
    }
  }

  const admin: Record<string, unknown> = {}
  for (const def of RPC_LIST) {
    if (definition[def.name] === undefined) throw new Error(`admin.proto has no method ${def.name}`)
    admin[def.name] = def.stream === true ? serverStream(def) : unary(def)
  }
  admin.close = () => { client.close() }
  return admin as unknown as GrpcAdminClient
}
