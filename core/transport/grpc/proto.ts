import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import { ADMIN_PROTO_PATH, ADMIN_SERVICE_NAME } from '../../contract/drift.ts'

// How admin.proto becomes JavaScript objects, chosen so a gRPC message is the very
// same object the HTTP gateway carries as JSON:
// - keepCase false: snake_case fields arrive as lowerCamel JSON names;
// - longs Number: int64 counters are plain numbers, as in the TypeBox schemas;
// - defaults true: non-optional scalars, lists and maps are present even when zero
//   or empty; proto3 `optional` fields are synthetic oneofs and get no default, so
//   an absent optional stays absent (presence is kept);
// - oneofs false: no virtual `_field` discriminator properties appear, which the
//   service's closed request schemas would reject.
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
