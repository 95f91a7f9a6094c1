import type { TSchema } from 'typebox'
import { ERROR_CODES, ERROR_CODE_LIST, type ErrorCode } from './error-codes.ts'
import { pathParams, RPC_LIST, type RpcDefinition } from './rpcs.ts'

// The gateway's OpenAPI 3.1 document, built from the same table and schemas that
// validate requests, so the document cannot describe an API other than the one served.

type JsonObject = Record<string, unknown>

export interface OpenApiOptions {
  version?: string
  serverUrl?: string
  rpcs?: readonly RpcDefinition[]
}

/** a plain JSON copy: TypeBox keeps its bookkeeping in non-enumerable keys that must not leak */
function plain (schema: TSchema): JsonObject {
  return JSON.parse(JSON.stringify(schema)) as JsonObject
}

function openApiPath (path: string): string {
  return path.replace(/:([A-Za-z][A-Za-z0-9]*)/g, '{$1}')
}

function tagOf (def: RpcDefinition): string {
  return def.http.path.split('/')[3] ?? 'admin'
}

const ERROR_REF = { $ref: '#/components/schemas/ErrorEnvelope' }

function errorResponses (def: RpcDefinition): JsonObject {
  const codes: ErrorCode[] = ['VALIDATION_FAILED', 'FORBIDDEN', 'QUEUE_NOT_FOUND', 'INTERNAL', 'UNSUPPORTED_BY_BACKEND', 'BACKEND_UNAVAILABLE']
  if (def.kind === 'mutation') codes.push('CONFLICT', 'APPROVAL_REQUIRED', 'GUARDRAIL_EXCEEDED')
  if (def.name === 'ExportAudit') codes.push('GUARDRAIL_EXCEEDED')
  const wantedStatuses = new Set(codes.map(wanted => ERROR_CODES[wanted].http))
  const byStatus = new Map<number, string[]>()
  // The codes the admin API can answer with (the registry's scope "admin"), grouped by status.
  for (const code of ERROR_CODE_LIST) {
    const spec = ERROR_CODES[code]
    if (spec.scope !== 'admin' || !wantedStatuses.has(spec.http)) continue
    byStatus.set(spec.http, [...(byStatus.get(spec.http) ?? []), code])
  }
  const responses: JsonObject = {}
  for (const [status, statusCodes] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    responses[String(status)] = { description: `error envelope; code one of ${statusCodes.join(', ')}`, content: { 'application/json': { schema: ERROR_REF } } }
  }
  return responses
}

function successResponse (def: RpcDefinition): JsonObject {
  if (def.stream === true && def.http.download === true) {
    return {
      description: 'the file itself (Content-Disposition: attachment; X-Switchyard-Sha256: its SHA-256); over gRPC a stream of chunks',
      content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } }
    }
  }
  if (def.stream === true) {
    return {
      description: `Server-Sent Events: each event has \`id:\` (resume with Last-Event-ID), \`event:\` (the type) and \`data:\` (${def.responseType} as JSON); comment lines are heartbeats`,
      content: { 'text/event-stream': { schema: { type: 'string' }, itemSchema: { $ref: `#/components/schemas/${def.responseType}` } } }
    }
  }
  if (def.http.download === true) {
    return {
      description: 'the `body` of the response message itself, typed by its `contentType` (with Content-Disposition: attachment when it names a file)',
      content: {
        'application/x-ndjson': { schema: { type: 'string' } },
        'application/json': { schema: { type: 'string' } },
        'text/csv': { schema: { type: 'string' } },
        'text/plain': { schema: { type: 'string' } }
      }
    }
  }
  return { description: def.summary, content: { 'application/json': { schema: { $ref: `#/components/schemas/${def.responseType}` } } } }
}

function operation (def: RpcDefinition): JsonObject {
  const request = plain(def.request) as { properties?: Record<string, JsonObject>, required?: string[] }
  const properties = request.properties ?? {}
  const required = new Set(request.required ?? [])
  const inPath = pathParams(def)
  const inBody = new Set(def.http.bodyFields ?? [])
  const inHeader = def.http.headerFields ?? {}
  const parameters: JsonObject[] = []
  for (const name of inPath) {
    parameters.push({ name, in: 'path', required: true, schema: properties[name] ?? { type: 'string' } })
  }
  for (const [name, header] of Object.entries(inHeader)) {
    parameters.push({ name: header, in: 'header', required: false, description: `sets ${name}`, schema: properties[name] ?? { type: 'string' } })
  }
  for (const [name, schema] of Object.entries(properties)) {
    if (inPath.includes(name) || inBody.has(name) || Object.hasOwn(inHeader, name)) continue
    parameters.push({ name, in: 'query', required: required.has(name), schema })
  }
  if (def.kind === 'mutation') {
    parameters.push({ name: 'X-Admin-Approval', in: 'header', required: false, description: 'approval token; required when WORKER_ADMIN_REQUIRE_APPROVAL=true', schema: { type: 'string' } })
  }
  parameters.push({ name: 'X-Request-Id', in: 'header', required: false, description: 'echoed in the response and recorded in the audit log', schema: { type: 'string', maxLength: 128 } })

  const op: JsonObject = {
    operationId: def.name,
    summary: def.summary,
    tags: [tagOf(def)],
    'x-grpc-method': `worker.v1.AdminService/${def.name}`,
    'x-switchyard-kind': def.kind,
    'x-switchyard-min-role': def.minRole,
    parameters,
    responses: { 200: successResponse(def), ...errorResponses(def) }
  }
  if (def.auditAction !== undefined) op['x-switchyard-audit-action'] = def.auditAction
  if (inBody.size > 0) {
    const bodyProperties = Object.fromEntries(Object.entries(properties).filter(([name]) => inBody.has(name)))
    const bodyRequired = [...inBody].filter(name => required.has(name))
    op.requestBody = {
      required: bodyRequired.length > 0,
      content: {
        'application/json': {
          schema: { type: 'object', additionalProperties: false, properties: bodyProperties, ...(bodyRequired.length > 0 ? { required: bodyRequired } : {}) }
        }
      }
    }
  }
  return op
}

export function buildOpenApiDocument (options: OpenApiOptions = {}): JsonObject {
  const rpcs = options.rpcs ?? RPC_LIST
  const paths: Record<string, JsonObject> = {}
  const schemas: Record<string, JsonObject> = {
    ErrorEnvelope: {
      type: 'object',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message', 'requestId', 'details'],
          properties: {
            code: { type: 'string', description: 'stable error code, e.g. QUEUE_NOT_FOUND' },
            message: { type: 'string' },
            requestId: { type: 'string' },
            details: { type: 'object' }
          }
        }
      }
    }
  }
  for (const def of rpcs) {
    const path = openApiPath(def.http.path)
    paths[path] ??= {}
    paths[path][def.http.method.toLowerCase()] = operation(def)
    for (const alias of def.http.aliases ?? []) {
      // The alias fixes some request fields, so they are not parameters there.
      const op = operation(def)
      const fixed = new Set(Object.keys(alias.fields))
      op.operationId = `${def.name}_${Object.values(alias.fields).join('_')}`
      op.parameters = (op.parameters as Array<{ name: string }>).filter(parameter => !fixed.has(parameter.name))
      op.description = `Same as ${def.http.path} with ${Object.entries(alias.fields).map(([k, v]) => `${k}=${v}`).join(', ')}.`
      paths[openApiPath(alias.path)] = { [def.http.method.toLowerCase()]: op }
    }
    schemas[def.requestType] = plain(def.request)
    schemas[def.responseType] = plain(def.response)
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Switchyard admin API',
      version: options.version ?? '1',
      description: 'The admin contract v1 (worker.v1.AdminService) over HTTPS with mutual TLS. Every request body and response is the same message as in gRPC.'
    },
    ...(options.serverUrl === undefined ? {} : { servers: [{ url: options.serverUrl }] }),
    security: [{ clientCertificate: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: { clientCertificate: { type: 'mutualTLS', description: 'a client certificate signed by WORKER_ADMIN_TLS_CA; its subject is the caller identity' } }
    }
  }
}
