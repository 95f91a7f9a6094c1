import t from 'tap'
import { Errors, SwitchyardError } from '../errors.ts'
import { AdminErrors, GrpcStatus, statusForCode, statusForError, toErrorEnvelope } from './errors.ts'
import { buildOpenApiDocument } from './openapi.ts'
import { jsonValueFieldNames } from './json-fields.ts'
import { pathParams, RPC_LIST, RPCS } from './rpcs.ts'

// SPEC §2, route by route.
const SPEC_ROUTES: Record<string, string> = {
  GetHealth: 'GET /admin/v1/health',
  GetOverview: 'GET /admin/v1/overview',
  ListQueues: 'GET /admin/v1/queues',
  GetQueue: 'GET /admin/v1/queues/:name',
  UpdateQueueWeight: 'POST /admin/v1/queues/:name/weight',
  ResetQueueWeight: 'DELETE /admin/v1/queues/:name/weight',
  PauseQueue: 'POST /admin/v1/queues/:name/pause',
  ListScheduleFactories: 'GET /admin/v1/schedules/factories',
  ListSchedules: 'GET /admin/v1/schedules',
  CreateSchedule: 'POST /admin/v1/schedules',
  DeleteSchedule: 'DELETE /admin/v1/schedules/:name',
  PauseSchedule: 'POST /admin/v1/schedules/:name/pause',
  RunSchedule: 'POST /admin/v1/schedules/:name/run',
  PauseSchedules: 'POST /admin/v1/schedules/pause',
  ListScheduleEvents: 'GET /admin/v1/schedules/events',
  ListDLQ: 'GET /admin/v1/dlq',
  GetDLQEntry: 'GET /admin/v1/dlq/:id',
  ReplayDLQ: 'POST /admin/v1/dlq/replay',
  ReplayDLQByID: 'POST /admin/v1/dlq/replay/ids',
  DeleteDLQEntry: 'DELETE /admin/v1/dlq/:id',
  PurgeDLQ: 'POST /admin/v1/dlq/purge',
  GetDLQStats: 'GET /admin/v1/dlq/stats',
  PauseDequeue: 'POST /admin/v1/pause',
  ResumeDequeue: 'POST /admin/v1/resume',
  ListTasks: 'GET /admin/v1/tasks',
  GetTask: 'GET /admin/v1/tasks/:id',
  EnqueueTask: 'POST /admin/v1/tasks',
  GetTaskGraph: 'GET /admin/v1/tasks/:id/graph',
  CancelTask: 'POST /admin/v1/tasks/:id/cancel',
  RetryTask: 'POST /admin/v1/tasks/:id/retry',
  GetTaskByKey: 'GET /admin/v1/tasks/by-key/:key',
  CancelTaskByKey: 'POST /admin/v1/tasks/by-key/:key/cancel',
  DeleteTaskByKey: 'DELETE /admin/v1/tasks/by-key/:key',
  ListWorkers: 'GET /admin/v1/workers',
  ListAuditEvents: 'GET /admin/v1/audit',
  ExportAudit: 'GET /admin/v1/audit/export',
  GetMetrics: 'GET /admin/v1/metrics',
  StreamEvents: 'GET /admin/v1/events',
  GetSession: 'GET /admin/v1/session',
  ListEvents: 'GET /admin/v1/events/log',
  GetMetricsHistory: 'GET /admin/v1/metrics/history',
  ListJobs: 'GET /admin/v1/jobs',
  GetJob: 'GET /admin/v1/jobs/:name',
  UpsertJob: 'POST /admin/v1/jobs',
  DeleteJob: 'DELETE /admin/v1/jobs/:name',
  RunJob: 'POST /admin/v1/jobs/:name/run',
  ListJobRuns: 'GET /admin/v1/jobs/runs',
  GetJobRun: 'GET /admin/v1/jobs/runs/:runId',
  CancelJobRun: 'POST /admin/v1/jobs/runs/:runId/cancel',
  ListJobEvents: 'GET /admin/v1/jobs/events',
  GetJobArtifactMeta: 'GET /admin/v1/jobs/:name/artifact/meta',
  GetJobArtifact: 'GET /admin/v1/jobs/:name/artifact',
  BulkTaskAction: 'POST /admin/v1/tasks/bulk',
  DrainQueue: 'POST /admin/v1/queues/:name/drain',
  RescheduleTask: 'POST /admin/v1/tasks/:id/reschedule',
  CordonWorker: 'POST /admin/v1/workers/:id/cordon',
  UncordonWorker: 'POST /admin/v1/workers/:id/uncordon',
  ReleaseWorkerLeases: 'POST /admin/v1/workers/:id/release-leases',
  SweepWorkers: 'POST /admin/v1/workers/sweep',
  ListRateLimits: 'GET /admin/v1/rate-limits',
  SetFlowLimit: 'POST /admin/v1/rate-limits',
  ClearFlowLimit: 'DELETE /admin/v1/rate-limits/:kind/:name'
}

t.test('the table serves exactly the SPEC routes, each bound to real request fields', async t => {
  t.same(Object.fromEntries(RPC_LIST.map(def => [def.name, `${def.http.method} ${def.http.path}`])), SPEC_ROUTES)
  const routes = RPC_LIST.map(def => `${def.http.method} ${def.http.path}`)
  t.equal(new Set(routes).size, routes.length, 'no two RPCs share a route')
  for (const def of RPC_LIST) {
    const request = def.request as unknown as { properties: Record<string, unknown>, required?: string[], additionalProperties?: boolean }
    t.equal(request.additionalProperties, false, `${def.name}: requests are closed`)
    for (const param of pathParams(def)) t.ok(request.required?.includes(param), `${def.name}: path param ${param} is a required field`)
    for (const field of def.http.bodyFields ?? []) t.ok(field in request.properties, `${def.name}: body field ${field} exists`)
    for (const field of Object.keys(def.http.headerFields ?? {})) t.ok(field in request.properties, `${def.name}: header field ${field} exists`)
    if (def.http.method !== 'POST') t.equal(def.http.bodyFields, undefined, `${def.name}: only POST reads a body`)
    if (def.kind === 'mutation') {
      t.match(def.auditAction, /^[a-z]+(\.[a-z_]+)+$/, `${def.name}: mutations name their audit action`)
      t.not(def.minRole, 'viewer', `${def.name}: viewers cannot mutate`)
      t.not(def.http.method, 'GET', `${def.name}: no mutation behind GET`)
    } else {
      t.equal(def.http.method, 'GET', `${def.name}: reads are GET`)
    }
  }
})

t.test('error codes map to the SPEC statuses in both transports', async t => {
  const expected: Array<[string, number, number]> = [
    ['VALIDATION_FAILED', 400, GrpcStatus.INVALID_ARGUMENT],
    ['FORBIDDEN', 403, GrpcStatus.PERMISSION_DENIED],
    ['READ_ONLY', 403, GrpcStatus.PERMISSION_DENIED],
    ['QUEUE_NOT_FOUND', 404, GrpcStatus.NOT_FOUND],
    ['TASK_NOT_FOUND', 404, GrpcStatus.NOT_FOUND],
    ['CONFLICT', 409, GrpcStatus.ABORTED],
    ['APPROVAL_REQUIRED', 412, GrpcStatus.FAILED_PRECONDITION],
    ['GUARDRAIL_EXCEEDED', 429, GrpcStatus.RESOURCE_EXHAUSTED],
    ['UNSUPPORTED_BY_BACKEND', 501, GrpcStatus.UNIMPLEMENTED],
    ['BACKEND_UNAVAILABLE', 503, GrpcStatus.UNAVAILABLE],
    ['BACKEND_TIMEOUT', 503, GrpcStatus.UNAVAILABLE],
    ['INTERNAL', 500, GrpcStatus.INTERNAL]
  ]
  for (const [code, http, grpc] of expected) t.same(statusForCode(code), { http, grpc }, code)
  // each factory raises with the status the table gives its code
  for (const factory of [...Object.values(Errors), ...Object.values(AdminErrors)]) {
    t.equal(statusForError(factory('x')).http, factory.statusCode, factory.code)
  }
  t.same(statusForError(new SwitchyardError('SOMETHING_NEW', 409, 'x')), { http: 409, grpc: GrpcStatus.ABORTED }, 'an unlisted code keeps its own status')
  t.same(statusForError(new TypeError('boom')), { http: 500, grpc: GrpcStatus.INTERNAL })
})

t.test('the error envelope keeps our errors and hides everything else', async t => {
  const known = Errors.queueNotFound('queue x not found', { details: { queue: 'x' } })
  t.same(toErrorEnvelope(known, 'req-1'), { error: { code: 'QUEUE_NOT_FOUND', message: 'queue x not found', requestId: 'req-1', details: { queue: 'x' } } })
  t.same(toErrorEnvelope(AdminErrors.readOnly('no'), 'req-2').error.details, {}, 'details are always an object')
  const leaky = new Error('relation "sy_tasks" does not exist at /srv/app/db.ts:12')
  const envelope = toErrorEnvelope(leaky, 'req-3')
  t.same(envelope, { error: { code: 'INTERNAL', message: 'internal error', requestId: 'req-3', details: {} } })
  t.notMatch(JSON.stringify(toErrorEnvelope({ stack: 'at x' }, 'r')), /at x/)
})

t.test('the OpenAPI document covers every HTTP route from the same schemas', async t => {
  const doc = buildOpenApiDocument({ version: '0.1.0' }) as {
    openapi: string
    paths: Record<string, Record<string, { operationId: string, parameters: Array<{ name: string, in: string, required: boolean }>, requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown>, required?: string[] } }> }, responses: Record<string, unknown> }>>
    components: { schemas: Record<string, unknown>, securitySchemes: Record<string, { type: string }> }
  }
  t.equal(doc.openapi, '3.1.0')
  t.equal(doc.components.securitySchemes.clientCertificate?.type, 'mutualTLS')
  const text = JSON.stringify(doc)
  t.notMatch(text, /~kind|~optional/, 'no TypeBox internals leak')
  for (const def of RPC_LIST) {
    const path = def.http.path.replace(/:(\w+)/g, '{$1}')
    const op = doc.paths[path]?.[def.http.method.toLowerCase()]
    if (op === undefined) { t.fail(`${def.name}: no operation at ${def.http.method} ${path}`); continue }
    t.equal(op.operationId, def.name)
    for (const param of pathParams(def)) t.ok(op.parameters.some(p => p.name === param && p.in === 'path' && p.required), `${def.name}: path ${param}`)
    t.ok(op.responses['200'], `${def.name}: success documented`)
    t.ok(doc.components.schemas[def.requestType] !== undefined && doc.components.schemas[def.responseType] !== undefined, `${def.name}: schemas`)
  }
  const replay = doc.paths['/admin/v1/dlq/replay/ids']?.post
  t.same(Object.keys(replay?.requestBody?.content['application/json']?.schema.properties ?? {}), ['ids', 'payload', 'targetQueue', 'dryRun', 'payloads'])
  t.same(replay?.requestBody?.content['application/json']?.schema.required, ['ids'])
  // A JSON value is any JSON: no `type`, so every OpenAPI tool reads it as "any"
  const payload = replay?.requestBody?.content['application/json']?.schema.properties.payload as Record<string, unknown>
  t.match(payload, { description: /JSON value.*1048576 bytes/, 'x-json-value': true, 'x-max-bytes': 1048576 })
  t.notOk('type' in payload, 'a request payload schema admits any JSON value')
  const taskView = (doc.components.schemas.GetTaskResponse as { properties: { task: { properties: Record<string, Record<string, unknown>>, required: string[] } } }).properties.task
  t.notOk('type' in (taskView.properties.payload ?? {}), 'so does the payload of a task')
  t.ok(taskView.required.includes('payload'), 'and it is always there')
  const list = doc.paths['/admin/v1/dlq']?.get
  t.same(list?.parameters.filter(p => p.in === 'query').map(p => p.name), ['limit', 'offset', 'cursor', 'queue', 'handler', 'query', 'since', 'until', 'timeField', 'tenant', 'correlationId'])
  t.ok(doc.paths['/admin/v1/events']?.get?.parameters.some(p => p.name === 'last-event-id' && p.in === 'header'))
  t.ok(doc.paths['/admin/v1/queues/{name}/pause']?.post?.responses['412'], 'mutations document 412')
  t.equal(RPCS.ExportAudit.http.download, true)
})

t.test('JSON value request fields travel in the JSON body, never in the query string (which carries text)', async t => {
  for (const def of RPC_LIST) {
    for (const field of jsonValueFieldNames(def.request)) t.ok(def.http.bodyFields?.includes(field), `${def.name}.${field} is a body field`)
  }
  t.same(jsonValueFieldNames(RPCS.EnqueueTask.request), ['payload'])
})
