import protobuf from 'protobufjs'
import { JSON_VALUE_PROTO_TYPE } from '../../contract/drift.ts'
import { fromProtoValue, toProtoValue, type ProtoValue } from './json-value.ts'

// Every google.protobuf.Value field of a message, wherever it sits (a field, an item
// of a repeated field, a map value, inside a nested message), converted to and from
// the JSON value the service and the HTTP gateway use. Where they sit is read once
// per message type from the proto itself, so a field that becomes a Value in
// admin.proto (and a JsonValue in messages.ts) is converted without more code.
// Conversions copy the objects along the way to a Value and leave the rest shared.

interface FieldPlan {
  name: string
  shape: 'single' | 'repeated' | 'map'
  /** null: the field is a Value itself; else the plan of its message type */
  message: MessagePlan | null
}

/** the fields of a message type that are, or lead to, a Value; null (in the cache) when none does */
type MessagePlan = readonly FieldPlan[]

type Convert = (value: unknown, field: string) => unknown

export class ValueFieldCodec {
  private readonly plans = new Map<string, MessagePlan | null>()

  constructor (private readonly root: protobuf.Root) {}

  /** message as the service has it (JSON values) → as proto-loader encodes it (Value objects) */
  toWire (typeName: string, message: unknown): unknown {
    return this.convert(this.planFor(typeName), message, '', (value, field) => toProtoValue(value, field))
  }

  /** message as proto-loader decoded it → with JSON values; a Value that holds no JSON value is a VALIDATION_FAILED naming it */
  fromWire (typeName: string, message: unknown): unknown {
    // proto-loader reads an unset Value field as null, which is what it stands for
    return this.convert(this.planFor(typeName), message, '', (value, field) => value === null ? null : fromProtoValue(value as ProtoValue, field))
  }

  /** the Value fields of a message type, as paths (`task.payload`, `events[].params`; `x.*` where a message repeats inside itself); for tests and docs */
  valueFieldPaths (typeName: string): string[] {
    const paths: string[] = []
    const visiting = new Set<MessagePlan>()
    const visit = (plan: MessagePlan, prefix: string): void => {
      visiting.add(plan)
      for (const field of plan) {
        const path = `${prefix}${field.name}${field.shape === 'repeated' ? '[]' : field.shape === 'map' ? '{}' : ''}`
        if (field.message === null) paths.push(path)
        else if (visiting.has(field.message)) paths.push(`${path}.*`)
        else visit(field.message, `${path}.`)
      }
      visiting.delete(plan)
    }
    const plan = this.planFor(typeName)
    if (plan !== null) visit(plan, '')
    return paths
  }

  private planFor (typeName: string): MessagePlan | null {
    return this.planOf(this.root.lookupType(typeName))
  }

  /** whether a Value field is reachable from `type`; a message met again on the way adds nothing new */
  private leadsToValue (type: protobuf.Type, visiting: Set<string>): boolean {
    if (this.plans.has(type.fullName)) return this.plans.get(type.fullName) !== null
    if (visiting.has(type.fullName)) return false
    visiting.add(type.fullName)
    const found = type.fieldsArray.some(field => {
      const resolved = field.resolve().resolvedType
      return resolved instanceof protobuf.Type && (resolved.fullName === JSON_VALUE_PROTO_TYPE || this.leadsToValue(resolved, visiting))
    })
    visiting.delete(type.fullName)
    return found
  }

  private planOf (type: protobuf.Type): MessagePlan | null {
    const known = this.plans.get(type.fullName)
    if (known !== undefined) return known
    if (!this.leadsToValue(type, new Set())) {
      this.plans.set(type.fullName, null)
      return null
    }
    const fields: FieldPlan[] = []
    // stored before it is filled: a message that contains itself shares this plan
    this.plans.set(type.fullName, fields)
    for (const field of type.fieldsArray) {
      const resolved = field.resolve().resolvedType
      if (!(resolved instanceof protobuf.Type)) continue
      const shape = field.map ? 'map' : field.repeated ? 'repeated' : 'single'
      if (resolved.fullName === JSON_VALUE_PROTO_TYPE) fields.push({ name: field.name, shape, message: null })
      else {
        const nested = this.planOf(resolved)
        if (nested !== null) fields.push({ name: field.name, shape, message: nested })
      }
    }
    return fields
  }

  private convert (plan: MessagePlan | null, message: unknown, prefix: string, value: Convert): unknown {
    if (plan === null || message === null || typeof message !== 'object') return message
    const source = message as Record<string, unknown>
    let copy: Record<string, unknown> | null = null
    for (const field of plan) {
      const current = source[field.name]
      // an absent optional field stays absent, an unset message (null) unset; a null Value is JSON null
      if (current === undefined || (current === null && field.message !== null)) continue
      const path = `${prefix}${field.name}`
      const one = (item: unknown, at: string): unknown => field.message === null ? value(item, at) : this.convert(field.message, item, `${at}.`, value)
      let converted: unknown
      if (field.shape === 'repeated') {
        converted = Array.isArray(current) ? current.map((item, index) => one(item, `${path}[${index}]`)) : current
      } else if (field.shape === 'map') {
        converted = Object.fromEntries(Object.entries(current as Record<string, unknown>).map(([key, item]) => [key, one(item, `${path}[${JSON.stringify(key)}]`)]))
      } else {
        converted = one(current, path)
      }
      copy ??= { ...source }
      copy[field.name] = converted
    }
    return copy ?? message
  }
}

/** the conversions of one RPC: its request and its response (or stream item) type */
export interface RpcValueCodec {
  requestToWire (request: unknown): unknown
  requestFromWire (request: unknown): unknown
  responseToWire (response: unknown): unknown
  responseFromWire (response: unknown): unknown
}

/** the conversions of the method `rpc` of `service` (its request and response types as the proto declares them) */
export function rpcValueCodec (codec: ValueFieldCodec, service: protobuf.Service, rpc: string): RpcValueCodec {
  const method = service.methods[rpc]
  if (method === undefined) throw new Error(`${service.fullName} has no method ${rpc}`)
  method.resolve()
  const request = method.resolvedRequestType?.fullName ?? method.requestType
  const response = method.resolvedResponseType?.fullName ?? method.responseType
  return {
    requestToWire: message => codec.toWire(request, message),
    requestFromWire: message => codec.fromWire(request, message),
    responseToWire: message => codec.toWire(response, message),
    responseFromWire: message => codec.fromWire(response, message)
  }
}
