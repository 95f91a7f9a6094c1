// Turns schema validation failures into one line per problem, `<path>: <reason>`,
// with paths the way people write them (worker.leaseTimeout, plugins[1].options.url).
// TypeBox reports in JSON pointers and schema keywords; operators should not have to.
import type { TSchema } from 'typebox'
import { Value } from 'typebox/value'
import System from 'typebox/system'
import { HINT_KEY, UNIT_KEY } from './schema.ts'
import { describeValue, formatPath, formatProblem, type Problem } from './paths.ts'

export { describeValue, formatPath, formatProblem, type Problem }

// Enough to list every problem of a badly broken file without unbounded work.
const MAX_REPORTED_ERRORS = 200

interface SchemaError {
  keyword: string
  schemaPath: string
  instancePath: string
  params: Record<string, unknown>
  message: string
}

type PathSegment = string | number

function decodePointer (pointer: string): string[] {
  const body = pointer.replace(/^#/, '')
  if (body === '') return []
  return body.slice(1).split('/').map(part => part.replace(/~1/g, '/').replace(/~0/g, '~'))
}

function childOf (value: unknown, key: string): unknown {
  if (value !== null && typeof value === 'object') return (value as Record<string, unknown>)[key]
  return undefined
}

/** Pointer segments become numbers where they index an array, so they print as [i]. */
function instanceSegments (pointer: string, root: unknown): { segments: PathSegment[], value: unknown } {
  const segments: PathSegment[] = []
  let current = root
  for (const part of decodePointer(pointer)) {
    segments.push(Array.isArray(current) && /^[0-9]+$/.test(part) ? Number(part) : part)
    current = childOf(current, part)
  }
  return { segments, value: current }
}

function schemaAt (schema: TSchema, pointer: string): Record<string, unknown> {
  let current: unknown = schema
  for (const part of decodePointer(pointer)) current = childOf(current, part)
  return (current ?? {}) as Record<string, unknown>
}


function listChoices (values: readonly unknown[]): string {
  return values.map(v => JSON.stringify(v)).join(', ')
}

function variantName (variant: Record<string, unknown>): string {
  if ('const' in variant) return JSON.stringify(variant.const)
  if (typeof variant.type === 'string') return variant.type
  return 'a matching value'
}

function anyOfReason (node: Record<string, unknown>, value: unknown): string {
  const unit = node[UNIT_KEY]
  if (unit === 'duration' || unit === 'bytes') {
    const what = unit === 'duration' ? 'duration' : 'byte size'
    const shown = typeof value === 'string' ? JSON.stringify(value) : describeValue(value)
    return `invalid ${what} ${shown} (${String(node[HINT_KEY])})`
  }
  const variants = Array.isArray(node.anyOf) ? node.anyOf as Array<Record<string, unknown>> : []
  if (variants.length > 0 && variants.every(v => 'const' in v)) {
    return `expected one of ${listChoices(variants.map(v => v.const))}, got ${describeValue(value)}`
  }
  return `expected ${variants.map(variantName).join(' or ')}, got ${describeValue(value)}`
}

function reasonFor (error: SchemaError, schema: TSchema, value: unknown, key: string | undefined): string {
  const node = schemaAt(schema, error.schemaPath)
  const params = error.params
  switch (error.keyword) {
    case 'type': {
      const expected = Array.isArray(params.type) ? (params.type as string[]).join(' or ') : String(params.type)
      return `expected ${expected}, got ${describeValue(value)}`
    }
    case 'anyOf':
      return anyOfReason(node, value)
    case 'enum':
      return `expected one of ${listChoices(params.allowedValues as unknown[])}, got ${describeValue(value)}`
    case 'const':
      return `expected ${JSON.stringify(params.allowedValue)}, got ${describeValue(value)}`
    case 'pattern': {
      const subject = error.schemaPath.endsWith('/propertyNames') ? `invalid name ${JSON.stringify(key)}: ` : ''
      const hint = typeof node[HINT_KEY] === 'string' ? node[HINT_KEY] as string : `must match the pattern ${String(params.pattern)}`
      return `${subject}${hint}`
    }
    case 'minLength':
      return params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters`
    case 'minItems':
      return `must have at least ${String(params.limit)} item(s)`
    case 'maxItems':
      return `must have at most ${String(params.limit)} items`
    case 'maxProperties':
      return `must have at most ${String(params.limit)} keys`
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `${error.message}, got ${describeValue(value)}`
    default:
      return error.message
  }
}

// Keywords whose information is already carried by another error for the same spot.
function isRedundant (error: SchemaError, anyOfPaths: readonly string[]): boolean {
  if (error.keyword === 'boolean' && error.schemaPath.endsWith('/additionalProperties')) return true
  if (error.keyword === 'propertyNames') return true
  return anyOfPaths.some(path => error.schemaPath.startsWith(`${path}/anyOf/`))
}

function collectErrors (schema: TSchema, value: unknown): SchemaError[] {
  // TypeBox buffers only a few errors by default (a global setting shared with every
  // other validator in the process). Raising it for this synchronous call and
  // restoring it straight after cannot interleave with anyone else.
  const previous = System.Settings.Get().maxErrors
  System.Settings.Set({ maxErrors: MAX_REPORTED_ERRORS })
  try {
    return Value.Errors(schema, value) as unknown as SchemaError[]
  } finally {
    System.Settings.Set({ maxErrors: previous })
  }
}



/**
 * Every problem of `value` against `schema`, in document order. `prefix` is put
 * before every path (e.g. `plugins[0](metrics).options`).
 */
export function schemaProblems (schema: TSchema, value: unknown, prefix = ''): Problem[] {
  const errors = collectErrors(schema, value)
  const anyOfPaths = errors.filter(e => e.keyword === 'anyOf').map(e => e.schemaPath)
  const problems: Problem[] = []
  const seen = new Set<string>()
  const add = (path: string, reason: string): void => {
    const line = `${path}: ${reason}`
    if (seen.has(line)) return
    seen.add(line)
    problems.push({ path, reason })
  }
  for (const error of errors) {
    if (isRedundant(error, anyOfPaths)) continue
    const { segments, value: at } = instanceSegments(error.instancePath, value)
    if (error.keyword === 'additionalProperties') {
      for (const key of error.params.additionalProperties as string[]) add(formatPath([...segments, key], prefix), 'unknown key')
    } else if (error.keyword === 'required') {
      for (const key of error.params.requiredProperties as string[]) add(formatPath([...segments, key], prefix), 'required')
    } else {
      const last = segments.at(-1)
      add(formatPath(segments, prefix), reasonFor(error, schema, at, typeof last === 'string' ? last : undefined))
    }
  }
  return problems
}
