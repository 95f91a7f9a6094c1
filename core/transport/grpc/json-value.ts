import { Errors } from '../../errors.ts'
import { jsonPath, MAX_JSON_DEPTH } from '../../backend/storable.ts'

// JSON values <-> google.protobuf.Value, as proto-loader presents the message
// (keepCase: false, enums: String, oneofs: false): exactly one of nullValue,
// numberValue, stringValue, boolValue, structValue { fields } or listValue { values }.
//
// Only JSON values cross: the HTTP gateway carries the same fields as JSON, so what
// one transport can carry the other can too. Everything else is refused with a
// VALIDATION_FAILED naming the path (payload.items[2]), both ways:
// - NaN and ±Infinity: JSON has no such numbers, number_value does;
// - an unpaired UTF-16 surrogate in a string or key: protobuf strings are UTF-8,
//   so it would silently arrive as U+FFFD;
// - nesting deeper than MAX_JSON_DEPTH (also stops cycles and bounds recursion);
// - a Value with no kind or several kinds set, BigInts, functions, symbols.
// As JSON.stringify does, toJSON() is honoured (a Date becomes its ISO string),
// object properties that are undefined are left out, and undefined in an array is null.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

export interface ProtoStruct { fields?: Record<string, ProtoValue> | null }
export interface ProtoListValue { values?: ProtoValue[] | null }
export interface ProtoValue {
  nullValue?: 'NULL_VALUE' | 0 | null
  numberValue?: number | null
  stringValue?: string | null
  boolValue?: boolean | null
  structValue?: ProtoStruct | null
  listValue?: ProtoListValue | null
}

const KINDS = ['nullValue', 'numberValue', 'stringValue', 'boolValue', 'structValue', 'listValue'] as const
const LONE_SURROGATE = /\p{Surrogate}/u

type Trail = Array<string | number>

function refuse (field: string, trail: Trail, message: string): never {
  const path = jsonPath(field, trail)
  throw Errors.validation(`${path}: ${message}`, { details: { field: path } })
}

function tooDeep (field: string): never {
  throw Errors.validation(`${field}: nested deeper than ${MAX_JSON_DEPTH} levels`, { details: { field } })
}

function checkText (field: string, trail: Trail, text: string, what: string): string {
  if (LONE_SURROGATE.test(text)) refuse(field, trail, `${what} contains an unpaired UTF-16 surrogate, which protobuf (UTF-8) cannot carry`)
  return text
}

function finite (field: string, trail: Trail, value: number): number {
  if (!Number.isFinite(value)) refuse(field, trail, `must be a finite number (JSON has no Infinity or NaN), got ${String(value)}`)
  return value
}

/** an own property even for the key "__proto__", which plain assignment would turn into a prototype change */
function define (target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

/** a JSON value as a google.protobuf.Value object; `field` names the value in errors */
export function toProtoValue (value: unknown, field: string): ProtoValue {
  return encode(value, field, [], 1)
}

function encode (value: unknown, field: string, trail: Trail, depth: number): ProtoValue {
  switch (typeof value) {
    case 'string': return { stringValue: checkText(field, trail, value, 'the string') }
    case 'number': return { numberValue: finite(field, trail, value) }
    case 'boolean': return { boolValue: value }
    case 'object': break
    case 'bigint': return refuse(field, trail, 'must be a JSON number, not a BigInt')
    default: return refuse(field, trail, `must be a JSON value, not ${typeof value}`)
  }
  if (value === null) return { nullValue: 'NULL_VALUE' }
  if (depth > MAX_JSON_DEPTH) tooDeep(field)
  const toJSON = (value as { toJSON?: unknown }).toJSON
  // depth + 1 bounds a toJSON that returns its own object
  if (typeof toJSON === 'function') return encode(toJSON.call(value), field, trail, depth + 1)
  if (Array.isArray(value)) {
    const values: ProtoValue[] = []
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      trail.push(i)
      values.push(item === undefined || typeof item === 'function' || typeof item === 'symbol' ? { nullValue: 'NULL_VALUE' } : encode(item, field, trail, depth + 1))
      trail.pop()
    }
    return { listValue: { values } }
  }
  const fields: Record<string, ProtoValue> = {}
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key]
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue
    trail.push(key)
    checkText(field, trail, key, 'the key')
    define(fields, key, encode(item, field, trail, depth + 1))
    trail.pop()
  }
  return { structValue: { fields } }
}

/** a google.protobuf.Value object as the JSON value it stands for; `field` names the value in errors */
export function fromProtoValue (message: ProtoValue, field: string): JsonValue {
  return decode(message, field, [], 1)
}

function decode (message: ProtoValue, field: string, trail: Trail, depth: number): JsonValue {
  if (message === null || typeof message !== 'object') refuse(field, trail, 'must be a google.protobuf.Value message')
  const set = KINDS.filter(kind => message[kind] !== undefined && message[kind] !== null)
  if (set.length !== 1) {
    refuse(field, trail, set.length === 0
      ? 'a google.protobuf.Value with no kind set (set one of null_value, number_value, string_value, bool_value, struct_value, list_value)'
      : `a google.protobuf.Value with several kinds set (${set.join(', ')}); set exactly one`)
  }
  switch (set[0]) {
    case 'nullValue': return null
    case 'numberValue': return finite(field, trail, message.numberValue as number)
    case 'stringValue': return message.stringValue as string
    case 'boolValue': return message.boolValue as boolean
    case 'structValue': {
      if (depth > MAX_JSON_DEPTH) tooDeep(field)
      const out: Record<string, JsonValue> = {}
      const fields = message.structValue?.fields ?? {}
      for (const key of Object.keys(fields)) {
        trail.push(key)
        define(out, key, decode(fields[key] as ProtoValue, field, trail, depth + 1))
        trail.pop()
      }
      return out
    }
    default: {
      if (depth > MAX_JSON_DEPTH) tooDeep(field)
      const values = message.listValue?.values ?? []
      const out: JsonValue[] = []
      for (let i = 0; i < values.length; i++) {
        trail.push(i)
        out.push(decode(values[i] as ProtoValue, field, trail, depth + 1))
        trail.pop()
      }
      return out
    }
  }
}
