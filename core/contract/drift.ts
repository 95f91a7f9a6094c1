import protobuf from 'protobufjs'
import type { RpcDefinition } from './rpcs.ts'
import { isJsonValueSchema } from './messages.ts'

// Compares admin.proto with the RPC table and its TypeBox schemas. The two transports
// share one contract only if this finds nothing: every RPC on both sides, every field
// on both sides with the same kind, the same optionality and the same streaming.
// A google.protobuf.Value field is a JsonValue field in TypeBox, and only such a field.

export { ADMIN_PROTO_PATH } from '../package-files.ts'
export const ADMIN_SERVICE_NAME = 'worker.v1.AdminService'

type Kind = 'string' | 'integer' | 'number' | 'boolean' | 'bytes' | 'array' | 'map' | 'message' | 'json value' | 'unknown'

/** the proto type a JsonValue field has */
export const JSON_VALUE_PROTO_TYPE = '.google.protobuf.Value'

const INTEGER_TYPES = new Set(['int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64'])

type JsonSchema = Record<string, unknown> & {
  type?: string
  enum?: unknown[]
  anyOf?: JsonSchema[]
  items?: JsonSchema
  properties?: Record<string, JsonSchema>
  patternProperties?: Record<string, JsonSchema>
  required?: string[]
}

function schemaKind (schema: JsonSchema): Kind {
  if (isJsonValueSchema(schema)) return 'json value'
  if (schema.type === 'string') return 'string'
  if (schema.type === 'integer') return 'integer'
  if (schema.type === 'number') return 'number'
  if (schema.type === 'boolean') return 'boolean'
  if (schema.type === 'array') return 'array'
  if (schema.type === 'object') return schema.patternProperties !== undefined ? 'map' : 'message'
  if (Array.isArray(schema.enum) && schema.enum.every(value => typeof value === 'string')) return 'string'
  if (Array.isArray(schema.anyOf) && schema.anyOf.every(option => schemaKind(option) === 'string')) return 'string'
  return 'unknown'
}

function scalarKind (type: string, resolved: protobuf.ReflectionObject | null): Kind {
  if (type === 'string') return 'string'
  if (type === 'bool') return 'boolean'
  if (type === 'double' || type === 'float') return 'number'
  if (INTEGER_TYPES.has(type)) return 'integer'
  if (type === 'bytes') return 'bytes'
  if (resolved instanceof protobuf.Enum) return 'string'
  if (resolved instanceof protobuf.Type && resolved.fullName === JSON_VALUE_PROTO_TYPE) return 'json value'
  if (resolved instanceof protobuf.Type) return 'message'
  return 'unknown'
}

function compareMessage (type: protobuf.Type, schema: JsonSchema, path: string, problems: string[]): void {
  if (schemaKind(schema) !== 'message') {
    problems.push(`${path}: proto message ${type.name} but TypeBox ${schemaKind(schema)}`)
    return
  }
  const properties = schema.properties ?? {}
  const required = new Set(schema.required ?? [])
  const protoNames = new Set<string>()
  for (const field of type.fieldsArray) {
    field.resolve()
    protoNames.add(field.name)
    const where = `${path}.${field.name}`
    const property = properties[field.name]
    if (property === undefined) {
      problems.push(`${where}: in proto ${type.name} but not in TypeBox`)
      continue
    }
    const protoOptional = field.options?.proto3_optional === true
    const collection = field.repeated || field.map
    if (collection && !required.has(field.name)) problems.push(`${where}: repeated/map fields are always present, so TypeBox must require it`)
    if (!collection && protoOptional !== !required.has(field.name)) {
      problems.push(`${where}: ${protoOptional ? 'optional' : 'required'} in proto but ${required.has(field.name) ? 'required' : 'optional'} in TypeBox`)
    }
    compareField(field, property, where, problems)
  }
  for (const name of Object.keys(properties)) {
    if (!protoNames.has(name)) problems.push(`${path}.${name}: in TypeBox but not in proto ${type.name}`)
  }
}

function compareValue (protoType: string, resolved: protobuf.ReflectionObject | null, schema: JsonSchema, where: string, problems: string[]): void {
  const expected = scalarKind(protoType, resolved)
  const actual = schemaKind(schema)
  if (expected === 'message' && resolved instanceof protobuf.Type) {
    compareMessage(resolved, schema, where, problems)
    return
  }
  if (expected !== actual) problems.push(`${where}: proto ${protoType} (${expected}) but TypeBox ${actual}`)
}

function compareField (field: protobuf.Field, schema: JsonSchema, where: string, problems: string[]): void {
  if (field.map) {
    const valueSchema = schemaKind(schema) === 'map' ? Object.values(schema.patternProperties ?? {})[0] : undefined
    if (valueSchema === undefined) {
      problems.push(`${where}: proto map but TypeBox ${schemaKind(schema)}`)
      return
    }
    const keyType = (field as unknown as protobuf.MapField).keyType
    if (keyType !== 'string') problems.push(`${where}: map keys must be strings in JSON, proto has ${keyType}`)
    compareValue(field.type, field.resolvedType, valueSchema, `${where}{}`, problems)
    return
  }
  if (field.repeated) {
    if (schemaKind(schema) !== 'array' || schema.items === undefined) {
      problems.push(`${where}: proto repeated but TypeBox ${schemaKind(schema)}`)
      return
    }
    compareValue(field.type, field.resolvedType, schema.items, `${where}[]`, problems)
    return
  }
  compareValue(field.type, field.resolvedType, schema, where, problems)
}

/** every difference between the proto service and the RPC table, as readable lines; [] when they agree */
export function findContractDrift (root: protobuf.Root, rpcs: readonly RpcDefinition[]): string[] {
  const problems: string[] = []
  const service = root.lookupService(ADMIN_SERVICE_NAME)
  const table = new Map(rpcs.map(def => [def.name, def]))
  for (const method of service.methodsArray) {
    if (!table.has(method.name)) problems.push(`rpc ${method.name}: in proto but not in the table`)
  }
  for (const def of rpcs) {
    const method = service.methods[def.name]
    if (method === undefined) {
      problems.push(`rpc ${def.name}: in the table but not in proto`)
      continue
    }
    method.resolve()
    if (method.requestStream === true) problems.push(`rpc ${def.name}: client streaming in proto is not supported`)
    if ((method.responseStream === true) !== (def.stream === true)) {
      problems.push(`rpc ${def.name}: response streaming is ${method.responseStream === true} in proto but ${def.stream === true} in the table`)
    }
    if (method.resolvedRequestType?.name !== def.requestType) problems.push(`rpc ${def.name}: request type ${method.resolvedRequestType?.name} in proto but ${def.requestType} in the table`)
    if (method.resolvedResponseType?.name !== def.responseType) problems.push(`rpc ${def.name}: response type ${method.resolvedResponseType?.name} in proto but ${def.responseType} in the table`)
    if (method.resolvedRequestType !== null) compareMessage(method.resolvedRequestType, def.request as JsonSchema, `${def.name}.request`, problems)
    if (method.resolvedResponseType !== null) compareMessage(method.resolvedResponseType, def.response as JsonSchema, `${def.name}.response`, problems)
  }
  return problems
}

/**
 * parses proto source the way proto-loader does (keepCase: false → lowerCamel field
 * names), with the well-known types protobufjs bundles (google/protobuf/struct.proto)
 */
export function parseProto (source: string): protobuf.Root {
  const root = new protobuf.Root()
  const struct = protobuf.common.get('google/protobuf/struct.proto')
  if (struct !== null) root.addJSON(struct.nested ?? {})
  return protobuf.parse(source, root, { keepCase: false }).root
}
