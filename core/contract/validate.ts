import { Compile, type Validator } from 'typebox/compile'
import type { TSchema } from 'typebox'
import { Errors } from '../errors.ts'
import { checkJsonValueFields } from './json-fields.ts'
import { NAME_PATTERN } from './messages.ts'
import type { RpcDefinition } from './rpcs.ts'

// The service validates its own requests: the gRPC transport has no schema
// validation of its own, and the HTTP gateway may run against a remote service. The
// first error names the field, so "limit: must be <= 1000" reaches the caller.

const validators = new WeakMap<TSchema, Validator>()

function validatorFor (schema: TSchema): Validator {
  let validator = validators.get(schema)
  if (validator === undefined) {
    validator = Compile(schema)
    validators.set(schema, validator)
  }
  return validator
}

interface SchemaError {
  keyword: string
  instancePath: string
  params: Record<string, unknown>
  message: string
}

function fieldName (instancePath: string): string {
  return instancePath.replace(/^\//, '').replaceAll('/', '.').replace(/\.(\d+)(?=\.|$)/g, '[$1]')
}

function describe (error: SchemaError): { field: string, message: string } {
  const field = fieldName(error.instancePath)
  const { keyword, params } = error
  if (keyword === 'additionalProperties') {
    const extra = (params.additionalProperties as string[] | undefined) ?? []
    const name = extra[0] ?? '?'
    return { field: field === '' ? name : `${field}.${name}`, message: 'is not a field of this request' }
  }
  if (keyword === 'required') {
    const missing = (params.requiredProperties as string[] | undefined) ?? []
    const name = missing[0] ?? '?'
    return { field: field === '' ? name : `${field}.${name}`, message: 'is required' }
  }
  if (keyword === 'pattern' && params.pattern === NAME_PATTERN) {
    return { field, message: "must be 1-128 characters of letters, digits, '_', '.', ':' or '-', starting with a letter or digit" }
  }
  if (keyword === 'enum') return { field, message: `must be one of ${((params.allowedValues as unknown[]) ?? []).join(', ')}` }
  if (keyword === 'format' && params.format === 'date-time') return { field, message: 'must be an RFC 3339 timestamp, e.g. 2025-01-31T12:00:00Z' }
  return { field, message: error.message }
}

// The schema-is-false error a closed object reports for each extra property repeats
// the additionalProperties error in a less helpful form.
function isRedundant (error: SchemaError): boolean {
  return error.keyword === 'boolean' && error.message === 'schema is false'
}

/** returns the value when it matches the schema, else throws VALIDATION_FAILED naming the first bad field */
export function validateMessage<T> (schema: TSchema, value: unknown, what: string): T {
  const validator = validatorFor(schema)
  if (validator.Check(value)) return value as T
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw Errors.validation(`${what}: must be an object`, { details: { field: '' } })
  }
  const errors = (validator.Errors(value) as unknown as SchemaError[]).filter(error => !isRedundant(error))
  const first = errors[0]
  if (first === undefined) throw Errors.validation(`${what}: invalid`, { details: { field: '' } })
  const { field, message } = describe(first)
  throw Errors.validation(`${field}: ${message}`, {
    details: { field, problems: errors.slice(0, 10).map(error => { const d = describe(error); return `${d.field}: ${d.message}` }) }
  })
}

/** validateMessage for the RPC's request, then its JsonValue fields: storable everywhere and within their byte bounds */
export function validateRequest<T> (def: RpcDefinition, value: unknown): T {
  const valid = validateMessage<T>(def.request, value ?? {}, `${def.name} request`)
  checkJsonValueFields(def.request, valid)
  return valid
}
