import { createRequire } from 'node:module'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import protobuf from 'protobufjs'
import { MAX_JSON_DEPTH } from '../../backend/storable.ts'
import { ADMIN_PROTO_PATH, ADMIN_SERVICE_NAME } from '../../contract/drift.ts'
import { rpcValueCodec, ValueFieldCodec, type RpcValueCodec } from './value-fields.ts'

/**
 * Message nesting the transport accepts. protobufjs stops at 100 levels (protoc's
 * default), but a JSON value nests two messages per level (Value, then Struct or
 * ListValue): at 100 a payload could nest only about 48 levels over gRPC while the
 * gateway and every backend take MAX_JSON_DEPTH. So the limit fits MAX_JSON_DEPTH
 * levels plus the messages around a value (GetTaskResponse.task.payload).
 * Runtimes that keep protoc's default (C++, Java) need the same raise to read
 * values nested deeper than about 48 levels.
 */
export const PROTOBUF_RECURSION_LIMIT = 2 * MAX_JSON_DEPTH + 32

function raiseRecursionLimit (instance: typeof protobuf): void {
  if (instance.util.recursionLimit < PROTOBUF_RECURSION_LIMIT) instance.util.recursionLimit = PROTOBUF_RECURSION_LIMIT
  if (instance.Reader.recursionLimit < PROTOBUF_RECURSION_LIMIT) instance.Reader.recursionLimit = PROTOBUF_RECURSION_LIMIT
}

// The limit is a setting of the protobufjs module; proto-loader's copy encodes and
// decodes the messages, and is ours unless the install did not deduplicate it.
raiseRecursionLimit(protobuf)
raiseRecursionLimit(createRequire(createRequire(import.meta.url).resolve('@grpc/proto-loader'))('protobufjs') as typeof protobuf)

// How admin.proto becomes JavaScript objects, chosen so a gRPC message is the very
// same object the HTTP gateway carries as JSON:
// - keepCase false: snake_case fields arrive as lowerCamel JSON names;
// - longs Number: int64 counters are plain numbers, as in the TypeBox schemas;
// - defaults true: non-optional scalars, lists and maps are present even when zero
//   or empty; proto3 `optional` fields are synthetic oneofs and get no default, so
//   an absent optional stays absent (presence is kept);
// - oneofs false: no virtual `_field` discriminator properties appear, which the
//   service's closed request schemas would reject.
// google.protobuf.Value fields (JSON values) are converted apart, by adminRpcCodec:
// proto-loader has no JSON mapping for them.
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: false
}

let cached: grpc.ServiceDefinition | null = null

/** worker.v1.AdminService as grpc-js method definitions, loaded once */
export function adminServiceDefinition (): grpc.ServiceDefinition {
  if (cached !== null) return cached
  const packageDefinition = protoLoader.loadSync(ADMIN_PROTO_PATH, PROTO_LOADER_OPTIONS)
  const service = packageDefinition[ADMIN_SERVICE_NAME]
  // Message types carry a `format`; a service is a map of method definitions.
  if (service === undefined || 'format' in service) {
    throw new Error(`${ADMIN_SERVICE_NAME} is not a service in ${ADMIN_PROTO_PATH}`)
  }
  cached = service as grpc.ServiceDefinition
  return cached
}

let codecs: Map<string, RpcValueCodec> | null = null

/**
 * The JSON value conversions of an RPC of worker.v1.AdminService: the server and
 * the client apply them to every message, so each google.protobuf.Value field is
 * a plain JSON value on both sides.
 */
export function adminRpcCodec (rpc: string): RpcValueCodec {
  if (codecs === null) {
    // the same file proto-loader reads, as reflection (keepCase false: the same lowerCamel names)
    const root = new protobuf.Root().loadSync(ADMIN_PROTO_PATH, { keepCase: false })
    root.resolveAll()
    const service = root.lookupService(ADMIN_SERVICE_NAME)
    const values = new ValueFieldCodec(root)
    codecs = new Map(service.methodsArray.map(method => [method.name, rpcValueCodec(values, service, method.name)]))
  }
  const codec = codecs.get(rpc)
  if (codec === undefined) throw new Error(`${ADMIN_SERVICE_NAME} has no method ${rpc} in ${ADMIN_PROTO_PATH}`)
  return codec
}
