// The one registry of error codes. Every code the platform raises is declared here
// once, with the HTTP status the gateway answers, the gRPC status the admin server
// answers and a line for the documentation; error factories are derived from it
// (defineError in core/errors.ts takes only a code of this table), so a code cannot
// exist without its mapping. The README's error table is generated from it
// (`npm run docs:errors`) and a test drives every code through both transports.

/** gRPC status codes (numeric values from the gRPC spec), named so the table reads plainly. */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16
} as const

export type GrpcStatusName = keyof typeof GrpcStatus

/** who raises a code: the admin API (service or gateway), or the platform around it (start-up, workers, plugins) */
export type ErrorScope = 'admin' | 'platform'

export interface ErrorCodeSpec {
  http: number
  grpc: GrpcStatusName
  scope: ErrorScope
  description: string
}

function code (http: number, grpc: GrpcStatusName, scope: ErrorScope, description: string): ErrorCodeSpec {
  return { http, grpc, scope, description }
}

export const ERROR_CODES = {
  // Requests the caller must change.
  VALIDATION_FAILED: code(400, 'INVALID_ARGUMENT', 'admin', 'a field of the request is missing, malformed or out of range; details.field names it'),
  BAD_REQUEST: code(400, 'INVALID_ARGUMENT', 'admin', 'the request is not valid HTTP or its URL cannot be decoded (e.g. a bad percent-encoding)'),
  CONFIG_INVALID: code(400, 'INVALID_ARGUMENT', 'platform', 'the configuration file or an environment override is invalid; details.problems lists each problem'),
  UNAUTHENTICATED: code(401, 'UNAUTHENTICATED', 'admin', 'the caller has no verified client certificate identity'),
  FORBIDDEN: code(403, 'PERMISSION_DENIED', 'admin', "the caller's role does not allow this call"),
  READ_ONLY: code(403, 'PERMISSION_DENIED', 'admin', 'the admin API runs read-only (admin.readOnly); mutations are refused'),
  NOT_FOUND: code(404, 'NOT_FOUND', 'admin', 'no admin route has this path'),
  QUEUE_NOT_FOUND: code(404, 'NOT_FOUND', 'admin', 'no queue of that name exists'),
  TASK_NOT_FOUND: code(404, 'NOT_FOUND', 'admin', 'no task has that id'),
  DLQ_ENTRY_NOT_FOUND: code(404, 'NOT_FOUND', 'admin', 'no dead-letter entry has that id'),
  SCHEDULE_NOT_FOUND: code(404, 'NOT_FOUND', 'admin', 'no schedule of that name exists'),
  JOB_NOT_FOUND: code(404, 'NOT_FOUND', 'admin', 'no job definition of that name exists'),
  JOB_RUN_NOT_FOUND: code(404, 'NOT_FOUND', 'admin', 'no run of that job has that id'),
  JOB_ARTIFACT_NOT_FOUND: code(404, 'NOT_FOUND', 'admin', 'the run named (or, without one, any recent run of the job) stored no artifact of that name'),
  WORKER_NOT_FOUND: code(404, 'NOT_FOUND', 'admin', 'the worker registry has no worker of that id (live, or stopped within the last hour and not swept)'),
  METHOD_NOT_ALLOWED: code(405, 'UNIMPLEMENTED', 'admin', 'the path exists but not with this HTTP method (or the method is unknown); the Allow header lists the methods'),
  REQUEST_TIMEOUT: code(408, 'DEADLINE_EXCEEDED', 'admin', 'the client did not send the whole request in time'),
  CONFLICT: code(409, 'ABORTED', 'admin', 'the target changed state first (e.g. a task already started); read it again and retry if still wanted'),
  LEASE_LOST: code(409, 'ABORTED', 'platform', "the worker's lease on a task expired or was taken over before it settled the task"),
  HANDLER_EXISTS: code(409, 'ALREADY_EXISTS', 'platform', 'a handler of that name is already registered in this worker'),
  SCHEDULE_FACTORY_EXISTS: code(409, 'ALREADY_EXISTS', 'platform', 'a schedule factory of that name is already registered in this process'),
  PGLITE_DATADIR_LOCKED: code(409, 'FAILED_PRECONDITION', 'platform', 'another live process holds the embedded PGlite data directory'),
  ADDRESS_IN_USE: code(409, 'FAILED_PRECONDITION', 'platform', 'another process listens on an address this process must listen on; the message names the setting and its environment variable'),
  SELECTION_CHANGED: code(409, 'ABORTED', 'admin', 'a bulk action confirmed with expectedSelection no longer selects what its dry run answered (tasks arrived, left or changed state); nothing was changed: preview again'),
  WORKER_ALIVE: code(409, 'FAILED_PRECONDITION', 'admin', 'the worker still heartbeats: its leases are released only with force (its running tasks would lose their lease)'),
  APPROVAL_REQUIRED: code(412, 'FAILED_PRECONDITION', 'admin', 'the mutation needs the approval token (X-Admin-Approval) and none or a wrong one was sent'),
  PAYLOAD_TOO_LARGE: code(413, 'RESOURCE_EXHAUSTED', 'admin', 'the request body (or its gRPC message) is larger than the configured limit'),
  URI_TOO_LONG: code(414, 'INVALID_ARGUMENT', 'admin', 'a path segment is longer than the gateway accepts'),
  UNSUPPORTED_MEDIA_TYPE: code(415, 'INVALID_ARGUMENT', 'admin', 'the body is not sent as Content-Type: application/json'),
  GUARDRAIL_EXCEEDED: code(429, 'RESOURCE_EXHAUSTED', 'admin', 'the call asks for more than a configured cap allows (replay limit, ids, export size, schedule runs)'),
  HEADERS_TOO_LARGE: code(431, 'RESOURCE_EXHAUSTED', 'admin', 'the request headers are larger than the gateway accepts'),
  // Failures on the server's side.
  INTERNAL: code(500, 'INTERNAL', 'admin', 'an unexpected failure; the message is generic and the server log has the cause'),
  ADMIN_OPTIONS_INVALID: code(500, 'INTERNAL', 'platform', 'the admin service was built with invalid options'),
  AUDIT_ARCHIVE_WRITE_FAILED: code(500, 'INTERNAL', 'platform', 'appending to the audit archive failed; the events stay buffered for the next flush'),
  IMAGE_BUILD_FAILED: code(500, 'INTERNAL', 'platform', "a job's image could not be built (the Dockerfile failed, or the build context is not usable); the message ends with the last lines of the build output"),
  CONTAINER_RUN_FAILED: code(500, 'INTERNAL', 'platform', 'the container engine refused to create, start or wait for a job container'),
  PLUGIN_NOT_FOUND: code(500, 'INTERNAL', 'platform', 'a plugin named in the config is not a built-in name, an installed package or a path'),
  PLUGIN_INVALID: code(500, 'INTERNAL', 'platform', 'a plugin failed to load or is not made with definePlugin()'),
  PLUGIN_DUPLICATE: code(500, 'INTERNAL', 'platform', 'the same plugin is listed twice'),
  PLUGIN_DEPENDENCY_MISSING: code(500, 'INTERNAL', 'platform', 'a plugin depends on a plugin that is not in the list'),
  PLUGIN_DEPENDENCY_CYCLE: code(500, 'INTERNAL', 'platform', 'plugins depend on each other in a cycle'),
  PLUGIN_OPTIONS_INVALID: code(500, 'INTERNAL', 'platform', "a plugin's options do not match its schema"),
  PLUGIN_REGISTER_TIMEOUT: code(500, 'INTERNAL', 'platform', 'a plugin did not finish registering in time'),
  HOOK_DUPLICATE: code(500, 'INTERNAL', 'platform', 'two plugins registered a backend, sink or exporter under one name'),
  HOOK_NOT_FOUND: code(500, 'INTERNAL', 'platform', 'the config names a backend, sink or exporter no plugin registered'),
  UNSUPPORTED_BY_BACKEND: code(501, 'UNIMPLEMENTED', 'admin', 'the configured backend does not offer this capability'),
  NOT_IMPLEMENTED: code(501, 'UNIMPLEMENTED', 'admin', 'the admin service behind this gateway does not offer this RPC (an older version)'),
  METRICS_NOT_CONFIGURED: code(501, 'UNIMPLEMENTED', 'admin', 'no metrics exporter is registered (add the metrics plugin)'),
  ARTIFACT_STORE_NOT_CONFIGURED: code(501, 'UNIMPLEMENTED', 'admin', 'no artifact store is registered (add an artifact store plugin), so job artifacts cannot be read'),
  UPSTREAM_FAILED: code(502, 'UNKNOWN', 'admin', 'the admin service behind this gateway failed without a Switchyard error code'),
  BAD_GATEWAY_RESPONSE: code(502, 'UNKNOWN', 'platform', 'the CLI got an answer from the gateway that is not JSON or not the error envelope'),
  GATEWAY_TLS_FAILED: code(502, 'UNAVAILABLE', 'platform', 'the CLI and the gateway did not agree on certificates (the gateway\'s is not signed by the CA the CLI uses, or the gateway refused the client certificate); the message names the URL and the files'),
  BACKEND_UNAVAILABLE: code(503, 'UNAVAILABLE', 'admin', 'the backend did not accept the call (connection lost, refused)'),
  BACKEND_TIMEOUT: code(503, 'UNAVAILABLE', 'admin', 'the backend did not answer within its timeout'),
  AUDIT_UNAVAILABLE: code(503, 'UNAVAILABLE', 'admin', 'the audit record of a mutation could not be stored; the answer says whether the mutation was applied (details.outcome)'),
  ADMIN_SERVICE_UNAVAILABLE: code(503, 'UNAVAILABLE', 'admin', 'the admin service at WORKER_ADMIN_GRPC_TARGET could not be reached'),
  WORKER_SHUTDOWN: code(503, 'UNAVAILABLE', 'platform', 'the abort reason a handler sees when its worker stops before it finished'),
  REDIS_EVICTING_MEMORY_POLICY: code(503, 'FAILED_PRECONDITION', 'platform', 'Redis runs with an evicting maxmemory-policy, which could drop tasks'),
  AUDIT_ARCHIVE_BUFFER_FULL: code(503, 'UNAVAILABLE', 'platform', 'the audit archive buffer is full and could not be flushed'),
  AUDIT_ARCHIVE_CLOSED: code(503, 'UNAVAILABLE', 'platform', 'the audit archive is closed'),
  CONTAINER_ENGINE_UNAVAILABLE: code(503, 'UNAVAILABLE', 'platform', 'the container engine (Docker Engine, or podman\'s Docker-compatible API) could not be reached or did not answer in time; the message names the socket'),
  DEADLINE_EXCEEDED: code(504, 'DEADLINE_EXCEEDED', 'admin', 'the call did not answer within the transport deadline'),
  TASK_TIMEOUT: code(504, 'DEADLINE_EXCEEDED', 'platform', "a handler ran longer than its task's timeoutMs; retried like any failure"),
  // Job sources and job stores (plugins job-source-git, artifact-store-fs, event-store-file).
  JOB_SOURCE_REFUSED: code(400, 'INVALID_ARGUMENT', 'platform', 'a job source was refused by a safety rule before anything was fetched or kept (repository not on the allowlist, a protocol other than https/ssh, a bad tag name, a branch or commit instead of a tag, a symlink in the checkout); the message names the value'),
  JOB_SOURCE_NOT_FOUND: code(404, 'NOT_FOUND', 'platform', "a job's source does not exist (no such tag in the repository)"),
  JOB_SOURCE_TOO_LARGE: code(413, 'RESOURCE_EXHAUSTED', 'platform', 'a fetched job source is larger than its byte or file-count cap; nothing of it is kept'),
  JOB_SOURCE_FAILED: code(502, 'UNKNOWN', 'platform', "fetching a job source failed (network, authentication, the repository's answer); the message carries the tool's words"),
  JOB_SOURCE_TIMEOUT: code(504, 'DEADLINE_EXCEEDED', 'platform', 'fetching a job source took longer than its time limit, or the run was aborted; the fetch was stopped'),
  ARTIFACT_TOO_LARGE: code(413, 'RESOURCE_EXHAUSTED', 'platform', 'an artifact is larger than the artifact store accepts; nothing of it is kept'),
  EVENT_STORE_CLOSED: code(503, 'UNAVAILABLE', 'platform', 'the job event store is closed'),
  EVENT_STORE_LOCKED: code(409, 'FAILED_PRECONDITION', 'platform', "another live process writes to the file event store's directory (one writer per directory)"),
  CONSOLE_SIGN_IN_REQUIRED: code(401, 'UNAUTHENTICATED', 'admin', 'the web console needs a signed-in session (or the credentials of its auth mode: basic, bearer or the proxy header)'),
  CONSOLE_CSRF_REJECTED: code(403, 'PERMISSION_DENIED', 'admin', "a web console mutation without the session's X-CSRF-Token header, or with an Origin other than the console's own"),
  CONSOLE_RATE_LIMITED: code(429, 'RESOURCE_EXHAUSTED', 'admin', 'too many web console sign-in attempts from this address; wait a minute'),
  CONSOLE_NOT_BUILT: code(503, 'UNAVAILABLE', 'platform', 'the web console\'s single-page app is not built; run `npm run build`')
} as const satisfies Record<string, ErrorCodeSpec>

export type ErrorCode = keyof typeof ERROR_CODES

export function isErrorCode (value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_CODES, value)
}

/** every code, in the table's order */
export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[]

/**
 * The HTTP status for a gRPC status, for a code this process does not know (a newer
 * service behind an older gateway): the status it travelled with still says what kind
 * of failure it was, so it is never turned into a 500 it was not.
 */
export const HTTP_FOR_GRPC: Readonly<Record<number, number>> = {
  [GrpcStatus.CANCELLED]: 499,
  [GrpcStatus.UNKNOWN]: 502,
  [GrpcStatus.INVALID_ARGUMENT]: 400,
  [GrpcStatus.DEADLINE_EXCEEDED]: 504,
  [GrpcStatus.NOT_FOUND]: 404,
  [GrpcStatus.ALREADY_EXISTS]: 409,
  [GrpcStatus.PERMISSION_DENIED]: 403,
  [GrpcStatus.RESOURCE_EXHAUSTED]: 429,
  [GrpcStatus.FAILED_PRECONDITION]: 412,
  [GrpcStatus.ABORTED]: 409,
  [GrpcStatus.OUT_OF_RANGE]: 400,
  [GrpcStatus.UNIMPLEMENTED]: 501,
  [GrpcStatus.INTERNAL]: 500,
  [GrpcStatus.UNAVAILABLE]: 503,
  [GrpcStatus.DATA_LOSS]: 500,
  [GrpcStatus.UNAUTHENTICATED]: 401
}

/**
 * The gRPC status for an HTTP status, for an error raised with a code outside the
 * registry (a SwitchyardError rebuilt from another process's answer).
 */
export function grpcForHttp (http: number): number {
  switch (http) {
    case 400: return GrpcStatus.INVALID_ARGUMENT
    case 401: return GrpcStatus.UNAUTHENTICATED
    case 403: return GrpcStatus.PERMISSION_DENIED
    case 404: return GrpcStatus.NOT_FOUND
    case 408: return GrpcStatus.DEADLINE_EXCEEDED
    case 409: return GrpcStatus.ABORTED
    case 412: return GrpcStatus.FAILED_PRECONDITION
    case 413: return GrpcStatus.RESOURCE_EXHAUSTED
    case 429: return GrpcStatus.RESOURCE_EXHAUSTED
    case 501: return GrpcStatus.UNIMPLEMENTED
    case 502: return GrpcStatus.UNKNOWN
    case 503: return GrpcStatus.UNAVAILABLE
    case 504: return GrpcStatus.DEADLINE_EXCEEDED
    default: return http >= 400 && http < 500 ? GrpcStatus.INVALID_ARGUMENT : GrpcStatus.INTERNAL
  }
}
