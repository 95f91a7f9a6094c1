import { Errors } from '../../errors.ts'
import { pathParams, type RpcDefinition } from '../../contract/rpcs.ts'

// An HTTP request → the RPC's request message. Path params, query string, JSON body
// and the table's header fields each supply the fields the table assigns to them; a
// field sent in the wrong place is refused by name instead of being half-honoured.
// Query strings carry only text, so values are turned into the type the schema asks
// for (integer, number, boolean, array); anything that does not convert is passed on
// as text and the service's validation names the field.

type JsonSchema = { type?: string, items?: JsonSchema, properties?: Record<string, JsonSchema> }

export interface HttpRequestParts {
  params: Record<string, string>
  query: Record<string, string | string[] | undefined>
  body: unknown
  headers: Record<string, string | string[] | undefined>
}

const NUMERIC = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/

function coerceScalar (schema: JsonSchema | undefined, text: string): unknown {
  switch (schema?.type) {
    case 'integer':
    case 'number':
      return NUMERIC.test(text) ? Number(text) : text
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text
    default:
      return text
  }
}

function coerceQueryValue (field: string, schema: JsonSchema | undefined, raw: string | string[]): unknown {
  if (schema?.type === 'array') {
    // Both ?ids=a&ids=b and ?ids=a,b name a list.
    const texts = (Array.isArray(raw) ? raw : [raw]).flatMap(text => text.split(',')).filter(text => text !== '')
    return texts.map(text => coerceScalar(schema.items, text))
  }
  if (Array.isArray(raw)) {
    if (raw.length > 1) throw Errors.validation(`${field}: given more than once in the query string`, { details: { field } })
    return coerceScalar(schema, raw[0] ?? '')
  }
  return coerceScalar(schema, raw)
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** where an RPC's fields come from: worked out once per RPC, not on every request */
interface FieldPlan {
  properties: Record<string, JsonSchema>
  inPath: ReadonlySet<string>
  inBody: ReadonlySet<string>
  inHeader: ReadonlyArray<[field: string, header: string]>
}

const plans = new WeakMap<RpcDefinition, FieldPlan>()

function fieldPlan (def: RpcDefinition): FieldPlan {
  let plan = plans.get(def)
  if (plan === undefined) {
    plan = {
      properties: (def.request as JsonSchema).properties ?? {},
      inPath: new Set(pathParams(def)),
      inBody: new Set(def.http.bodyFields ?? []),
      inHeader: Object.entries(def.http.headerFields ?? {})
    }
    plans.set(def, plan)
  }
  return plan
}

export function buildRpcRequest (def: RpcDefinition, parts: HttpRequestParts): Record<string, unknown> {
  const { properties, inPath, inBody, inHeader } = fieldPlan(def)
  const request: Record<string, unknown> = {}

  for (const field in parts.query) {
    if (!Object.hasOwn(parts.query, field)) continue
    const raw = parts.query[field]
    // An empty parameter (?queue=) means "not given", as HTML forms and the spec's examples send it.
    if (raw === undefined || raw === '' || (Array.isArray(raw) && raw.every(text => text === ''))) continue
    // Unknown names stop here, before they could be assigned (think `__proto__`).
    if (!Object.hasOwn(properties, field)) throw Errors.validation(`${field}: is not a parameter of ${def.name}`, { details: { field } })
    if (inPath.has(field)) throw Errors.validation(`${field}: belongs in the path, not the query string`, { details: { field } })
    if (inBody.has(field)) throw Errors.validation(`${field}: belongs in the JSON body, not the query string`, { details: { field } })
    request[field] = coerceQueryValue(field, properties[field], raw)
  }

  for (const [field, header] of inHeader) {
    const value = parts.headers[header]
    const text = Array.isArray(value) ? value[0] : value
    // The header wins over a query parameter of the same field (EventSource sends Last-Event-ID on reconnect).
    if (typeof text === 'string' && text !== '') request[field] = text
  }

  const body = parts.body
  if (body !== undefined && body !== null) {
    if (!isPlainObject(body)) throw Errors.validation('body: must be a JSON object', { details: { field: 'body' } })
    for (const [field, value] of Object.entries(body)) {
      if (!inBody.has(field)) {
        const where = inPath.has(field) ? 'is taken from the path' : inBody.size === 0 ? `is not accepted: ${def.name} takes no body fields` : 'is not a field of this request body'
        throw Errors.validation(`${field}: ${where}`, { details: { field } })
      }
      request[field] = value
    }
  }

  for (const field of inPath) {
    const value = parts.params[field]
    if (value !== undefined) request[field] = value
  }
  // proto3 has no absent list: over gRPC a list left out arrives empty. Routes that say
  // so read a list left out of the body the same way.
  if (def.http.emptyListsWhenAbsent === true) {
    for (const field of inBody) {
      if (request[field] === undefined && properties[field]?.type === 'array') request[field] = []
    }
  }
  return request
}

/** The parts of a Fastify-style request the RPC message is read from. */
export interface IncomingRequest {
  params: unknown
  query: unknown
  body: unknown
  headers: Record<string, string | string[] | undefined>
}

/** An incoming request (gateway or console) → the RPC's request message; `fixed` are the fields a route alias sets. */
export function rpcRequestOf (def: RpcDefinition, request: IncomingRequest, fixed?: Readonly<Record<string, string>>): Record<string, unknown> {
  const query = request.query as Record<string, string | string[] | undefined>
  return buildRpcRequest(def, {
    params: request.params as Record<string, string>,
    query: fixed === undefined ? query : { ...query, ...fixed },
    body: request.body,
    headers: request.headers
  })
}
