import type { TSchema } from 'typebox'
import { Errors } from '../errors.ts'
import { checkStorableJson } from '../backend/storable.ts'
import { isJsonValueSchema, JSON_MAX_BYTES_KEYWORD } from './messages.ts'

// The JsonValue fields of a request, found from its schema: TypeBox accepts any
// value there, so what makes them safe to store is checked here, the same for
// every such field and on both transports (the service validates its own requests):
// a value every backend stores as it came (no NaN, NUL, unpaired surrogate or
// nesting past 100 levels), within the field's byte bound as JSON.

type JsonSchema = { type?: string, properties?: Record<string, JsonSchema>, items?: JsonSchema }

interface PropertyPlan {
  name: string
  /** the property is a JsonValue field */
  json: boolean
  maxBytes: number | undefined
  /** for a property that is not one itself: where they sit inside it */
  nested: JsonFieldPlan | null
}

/** where JsonValue fields sit in a message: each property that is one, or that leads to one */
interface JsonFieldPlan {
  properties: readonly PropertyPlan[]
  /** for an array schema: the plan of its items */
  items: JsonFieldPlan | null
}

const plans = new WeakMap<object, JsonFieldPlan | null>()

function planOf (schema: JsonSchema): JsonFieldPlan | null {
  if (plans.has(schema)) return plans.get(schema) ?? null
  plans.set(schema, null) // a schema that refers to itself leads nowhere new
  let plan: JsonFieldPlan | null = null
  if (schema.type === 'array' && schema.items !== undefined) {
    const items = planOf(schema.items)
    if (items !== null) plan = { properties: [], items }
  } else if (schema.type === 'object' && schema.properties !== undefined) {
    const properties = Object.entries(schema.properties).flatMap(([name, property]): PropertyPlan[] => {
      if (isJsonValueSchema(property)) {
        const max = (property as Record<string, unknown>)[JSON_MAX_BYTES_KEYWORD]
        return [{ name, maxBytes: typeof max === 'number' ? max : undefined, json: true, nested: null }]
      }
      const nested = planOf(property)
      return nested === null ? [] : [{ name, maxBytes: undefined, json: false, nested }]
    })
    if (properties.length > 0) plan = { properties, items: null }
  }
  plans.set(schema, plan)
  return plan
}

/** the top-level fields of a message schema that are JsonValue fields */
export function jsonValueFieldNames (schema: TSchema): string[] {
  return (planOf(schema as JsonSchema)?.properties ?? []).filter(property => property.json).map(property => property.name)
}

/** bytes of `value` as JSON, or null when JSON.stringify cannot encode it (a cycle, a BigInt, nothing at all) */
export function jsonByteLength (value: unknown): number | null {
  try {
    const text = JSON.stringify(value) as string | undefined
    return text === undefined ? null : Buffer.byteLength(text)
  } catch {
    return null
  }
}

function checkField (field: string, value: unknown, maxBytes: number | undefined): void {
  const kind = typeof value
  if (kind === 'function' || kind === 'symbol') throw Errors.validation(`${field}: must be a JSON value`, { details: { field } })
  checkStorableJson(field, value)
  if (maxBytes === undefined) return
  const bytes = jsonByteLength(value)
  if (bytes === null) throw Errors.validation(`${field}: must be a JSON value`, { details: { field } })
  if (bytes > maxBytes) throw Errors.validation(`${field}: ${bytes} bytes as JSON, more than the ${maxBytes} allowed`, { details: { field, bytes, maxBytes } })
}

function walk (plan: JsonFieldPlan, value: unknown, path: string): void {
  if (plan.items !== null) {
    if (!Array.isArray(value)) return
    value.forEach((item, index) => { walk(plan.items as JsonFieldPlan, item, `${path}[${index}]`) })
    return
  }
  if (value === null || typeof value !== 'object') return
  for (const property of plan.properties) {
    const item = (value as Record<string, unknown>)[property.name]
    if (item === undefined) continue
    const field = path === '' ? property.name : `${path}.${property.name}`
    if (property.json) checkField(field, item, property.maxBytes)
    else if (property.nested !== null) walk(property.nested, item, field)
  }
}

/** refuses a JsonValue field of `value` (a message valid for `schema`) that a backend could not store as it is, naming the field */
export function checkJsonValueFields (schema: TSchema, value: unknown): void {
  const plan = planOf(schema as JsonSchema)
  if (plan !== null) walk(plan, value, '')
}
