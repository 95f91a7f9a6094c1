import type * as grpc from '@grpc/grpc-js'
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

// The limit is a setting of the protobufjs module, which encodes and decodes the messages.
if (protobuf.util.recursionLimit < PROTOBUF_RECURSION_LIMIT) protobuf.util.recursionLimit = PROTOBUF_RECURSION_LIMIT
if (protobuf.Reader.recursionLimit < PROTOBUF_RECURSION_LIMIT) protobuf.Reader.recursionLimit = PROTOBUF_RECURSION_LIMIT

// How admin.proto becomes JavaScript objects, chosen so a gRPC message is the very
// same object the HTTP gateway carries as JSON (the options of @grpc/proto-loader,
// whose method definitions these are; a test compares them):
// - keepCase false (when parsing): snake_case fields arrive as lowerCamel JSON names;
// - longs Number: int64 counters are plain numbers, as in the TypeBox schemas;
// - defaults true: non-optional scalars, lists and maps are present even when zero
//   or empty; proto3 `optional` fields are synthetic oneofs and get no default, so
//   an absent optional stays absent (presence is kept);
// - oneofs false: no virtual `_field` discriminator properties appear, which the
//   service's closed request schemas would reject.
// google.protobuf.Value fields (JSON values) are converted apart, by adminRpcCodec:
// protobufjs's object mapping has no JSON mapping for them.
export const PROTO_LOADER_OPTIONS = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: false
} as const satisfies protobuf.IConversionOptions & { keepCase: boolean }

let root: protobuf.Root | null = null

/** admin.proto parsed once (it is the larger part of starting the gRPC server), shared by the service definition and the value codecs */
function adminRoot (): protobuf.Root {
  if (root === null) {
    const parsed = new protobuf.Root().loadSync(ADMIN_PROTO_PATH, { keepCase: PROTO_LOADER_OPTIONS.keepCase })
    parsed.resolveAll()
    root = parsed
  }
  return root
}

function serializer (type: protobuf.Type): grpc.serialize<unknown> {
  return (message) => {
    if (Array.isArray(message)) throw new Error(`Failed to serialize message: expected object with ${type.name} structure, got array instead`)
    const bytes = type.encode(type.fromObject(message as Record<string, unknown>)).finish()
    // protobufjs writes into a Buffer under Node.js; a plain Uint8Array is wrapped, not copied
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
}

function deserializer (type: protobuf.Type): grpc.deserialize<unknown> {
  return (bytes) => type.toObject(type.decode(bytes), PROTO_LOADER_OPTIONS)
}

/** lodash's camelCase of an RPC name, as proto-loader names methods (ListDLQ → listDlq, ReplayDLQByID → replayDlqById) */
function camelCase (name: string): string {
  const words = name.match(/[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+/g) ?? [name]
  return words.map((word, i) => i === 0 ? word.toLowerCase() : word.charAt(0).toUpperCase() + word.slice(1).toLowerCase()).join('')
}

let cached: grpc.ServiceDefinition | null = null

/**
 * worker.v1.AdminService as grpc-js method definitions, built once: what
 * @grpc/proto-loader builds for a service (path, streaming, the serializers,
 * originalName), without the descriptor protos of every message it adds for
 * reflection, which this server does not offer and which cost most of its time.
 */
export function adminServiceDefinition (): grpc.ServiceDefinition {
  if (cached !== null) return cached
  const service = adminRoot().lookupService(ADMIN_SERVICE_NAME)
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {}
  for (const method of service.methodsArray) {
    const request = method.resolvedRequestType
    const response = method.resolvedResponseType
    if (request === null || response === null) throw new Error(`${ADMIN_SERVICE_NAME}/${method.name} in ${ADMIN_PROTO_PATH}: its message types did not resolve`)
    definition[method.name] = {
      path: `/${ADMIN_SERVICE_NAME}/${method.name}`,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: serializer(request),
      requestDeserialize: deserializer(request),
      responseSerialize: serializer(response),
      responseDeserialize: deserializer(response),
      originalName: camelCase(method.name)
    }
  }
  cached = definition
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
    const parsed = adminRoot()
    const service = parsed.lookupService(ADMIN_SERVICE_NAME)
    const values = new ValueFieldCodec(parsed)
    codecs = new Map(service.methodsArray.map(method => [method.name, rpcValueCodec(values, service, method.name)]))
  }
  const codec = codecs.get(rpc)
  if (codec === undefined) throw new Error(`${ADMIN_SERVICE_NAME} has no method ${rpc} in ${ADMIN_PROTO_PATH}`)
  return codec
}
