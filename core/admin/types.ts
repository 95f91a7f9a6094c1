import type { Logger } from '../worker/logger.ts'
import type { AuditEvent, Backend } from '../backend/types.ts'
import type { ArtifactStore, EventStore, MetricEvent, MetricsExporter } from '../plugin/kinds.ts'
import type { JobDefinitionDefaults } from '../jobs/definition.ts'
import type { Scheduler } from '../scheduler/scheduler.ts'
import type { EventLog } from '../events/event-log.ts'
import type { TaskDefaults } from '../tasks/enqueue.ts'
import type { Enqueuer } from '../tasks/enqueuer.ts'
import type { AdminEventT } from '../contract/messages.ts'
import type { RequestOf, ResponseOf, Role, RpcName, StreamRpcName } from '../contract/rpcs.ts'

export interface AdminOptions {
  /** refuse every mutation (403 READ_ONLY) before touching the backend */
  readOnly: boolean
  /** mutations need `approvalToken` in the call context (412 APPROVAL_REQUIRED otherwise) */
  requireApproval: boolean
  approvalToken?: string
  /** caller identity → role; when set, unknown callers are refused; when unset everyone is admin */
  roles?: Record<string, Role> | null
  /** bound on every backend call (503 BACKEND_TIMEOUT past it) */
  requestTimeoutMs: number
  /** WORKER_ADMIN_REPLAY_LIMIT_MAX */
  replayLimitMax: number
  /** WORKER_ADMIN_REPLAY_IDS_MAX */
  replayIdsMax: number
  /** WORKER_ADMIN_PURGE_LIMIT_MAX: most DLQ entries one PurgeDLQ call deletes (default 10000) */
  purgeLimitMax?: number
  /** WORKER_ADMIN_AUDIT_EXPORT_LIMIT_MAX */
  auditExportLimitMax: number
  /** WORKER_ADMIN_AUDIT_EVENT_LIMIT: audit events kept in the backend */
  auditEventLimit: number
  /** WORKER_ADMIN_AUDIT_RETENTION: audit events older than this are pruned */
  auditRetentionMs?: number
  /** how often audit retention runs (default 60 s); it runs after a write, never on every write */
  auditPruneIntervalMs?: number
  /** WORKER_ADMIN_BULK_MAX: tasks one bulk task action may select (default 1000) */
  bulkMax?: number
  /** WORKER_ADMIN_SCHEDULE_RUN_MAX: RunSchedule calls per window (default 10) */
  scheduleRunMax?: number
  /** WORKER_ADMIN_SCHEDULE_RUN_WINDOW (default 60 s) */
  scheduleRunWindowMs?: number
  /** StreamEvents polls this often when the backend cannot notify (default 500 ms) */
  eventPollIntervalMs?: number
  /** a computed overview or queue list answers later GetOverview / ListQueues calls for this long unless this service answered a mutation since (default 100 ms); 0 computes every one afresh */
  readReuseMs?: number
}

export interface AuditSink {
  name: string
  write (event: AuditEvent): Promise<void>
}

export interface AdminInfo {
  version: string
  commit: string
  backendName: string
  /** epoch ms */
  startedAt: number
  /** configured default weight of a queue */
  weightDefaults: (queue: string) => number
  defaultQueue: string
  taskDefaults: TaskDefaults
  /** queues named in config: known (listed, addressable) before their first task */
  queues?: string[]
}

export interface AdminServiceDeps {
  backend: Backend
  events: EventLog
  options: AdminOptions
  auditSinks?: AuditSink[]
  /** GetMetrics reads the first one (the metrics plugin registers it) */
  metricsExporters?: readonly MetricsExporter[]
  info: AdminInfo
  /** the process's enqueue path (EnqueueTask); default: one over `backend` and `events`, counted by `metricsExporters` */
  enqueuer?: Enqueuer
  /** serves the schedule RPCs; without it they answer UNSUPPORTED (501) */
  scheduler?: Scheduler
  /** failures that must not fail a call (an audit sink, retention, a notification subscription) */
  onError?: (err: unknown, context: string) => void
  /** feeds the metrics exporters (audit write failures by destination) */
  observe?: (event: MetricEvent) => void
  /** counts operator replays into the metrics history (GetMetricsHistory) */
  history?: { noteAdminEvents (events: ReadonlyArray<{ type: string, data: unknown }>): void }
  /** reads at debug; one info line per mutation (action, target, actor, outcome) */
  log?: Pick<Logger, 'debug' | 'info'>
  /** the job RPCs' settings and stores; absent: defaults, no artifact store, no event store */
  jobs?: AdminJobsDeps
}

export interface AdminJobsDeps {
  /** what a definition gets for the fields it leaves out (config jobs.defaults) */
  defaults?: JobDefinitionDefaults
  /** where GetJobArtifact reads a tarball_path job's archive no run stored (jobs.adminTarballDir) */
  adminTarballDir?: string | null
  /** GetJobArtifact(Meta) read it (the first registered artifact store) */
  artifactStore?: ArtifactStore | null
  /** job events go here too, and ListJobEvents reads it, when registered */
  eventStore?: EventStore | null
}

export interface CallContext {
  /** the caller's client certificate identity (the end user a trusted gateway named) */
  actor: string
  /** the trusted gateway's own identity when it named the actor */
  via?: string
  /** an identity a forwarder that is not in admin.trustedGateways claimed; ignored, but audited */
  untrustedForwardedIdentity?: string
  requestId: string
  /**
   * the role the in-process front end that authenticated the actor (the web console)
   * gave it; it replaces the admin.roles lookup. No transport sets it from the wire,
   * so a remote caller cannot claim a role (a trusted gateway's claim is forwardedRole).
   */
  grantedRole?: Role
  /**
   * the role a trusted gateway's front end gave the actor (gRPC `x-forwarded-role`):
   * never more than the gateway's own admin.roles entry nor the actor's, when it has
   * one (guards.ts effectiveRole); a name that is no role refuses the call
   */
  forwardedRole?: string
  /** a role a forwarder that is not in admin.trustedGateways claimed; ignored, but audited */
  untrustedForwardedRole?: string
  /** X-Admin-Approval header / approval metadata */
  approvalToken?: string
  /** aborts StreamEvents (client gone, server closing) */
  signal?: AbortSignal
}

/** a server stream's answer: iterate for items; `ready` settles once the call is authorised and positioned, so a transport can answer an error before it starts streaming */
export interface ServerStream<T> extends AsyncIterable<T> {
  ready: Promise<void>
}

/**
 * StreamEvents' answer. `pages`, when present, gives the same events a page at a time
 * (arrays shared between streams: read them, never change them), for a transport that
 * writes many events at once.
 */
export type EventStream = ServerStream<AdminEventT> & { pages?: () => AsyncIterable<readonly AdminEventT[]> }

type Method<N extends RpcName> = N extends StreamRpcName
  ? (request: RequestOf<N>, ctx: CallContext) => ServerStream<ResponseOf<N>>
  : (request: RequestOf<N>, ctx: CallContext) => Promise<ResponseOf<N>>

/** one method per RPC of the admin contract, named exactly like the RPC */
export type AdminService = { [N in RpcName]: Method<N> }

export interface RunningAdminService extends AdminService {
  /** waits for background work (audit retention) and drops the event subscription */
  close (): Promise<void>
}
