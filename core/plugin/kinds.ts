// What plugins can contribute. Each kind is the seam a feature of core talks to, so
// a deployment can swap implementations in config without core knowing which one
// runs. Every registered object has a `name`, unique within its kind.
//
// Lifecycle: the plugin that registers an object also closes it (hooks.onClose).
// The one exception is a backend registered as a factory: the registry creates it
// on first use and therefore closes it.
import type {
  AuditEvent,
  Backend,
  EventInput,
  ReadEventsBackwardRequest,
  ReadEventsRequest,
  StoredEvent,
  Unsubscribe
} from '../backend/types.ts'
import type { AdminService } from '../admin/types.ts'

/** Builds the backend on first use; the registry then calls init() and, at shutdown, close(). */
export type BackendFactory = () => Backend | Promise<Backend>

/** Receives every audit event after the backend stored it (archives, SIEM forwarding). */
export interface AuditSink {
  readonly name: string
  write (event: AuditEvent): Promise<void>
  /** push buffered events out; called before shutdown and by operators' exports */
  flush? (): Promise<void>
  close? (): Promise<void>
}

/** What the runtime reports to metrics exporters; observe() sits on hot paths and must not block. */
export type MetricEvent =
  | { type: 'task.enqueued', queue: string, handler: string }
  | { type: 'task.started', queue: string, handler: string, /** time from runAt to start */ waitMs: number }
  | { type: 'task.finished', queue: string, handler: string, outcome: 'succeeded' | 'retrying' | 'dead' | 'lease_lost', durationMs: number }
  | { type: 'queue.depth', queue: string, ready: number, processing: number, scheduled: number, dead: number }
  | { type: 'admin.request', rpc: string, /** 'OK' or an error code */ code: string, durationMs: number }
  /** finished tasks deleted by retention */
  | { type: 'tasks.pruned', state: 'succeeded' | 'canceled' | 'dead', count: number }
  | { type: 'audit.write_failed', /** 'backend' or 'sink:<name>' */ destination: string }

export interface MetricsExporter {
  readonly name: string
  /** content type of render(), e.g. Prometheus text exposition */
  readonly contentType: string
  observe (event: MetricEvent): void
  /** the metrics in the exporter's wire format (GET /admin/v1/metrics/prometheus) */
  render (): Promise<string>
  /** the metrics as JSON (GET /admin/v1/metrics) */
  snapshot (): Promise<unknown>
  close? (): Promise<void>
}

/** Where a job's sources come from (SPEC: job definitions). */
export type JobSourceKind = 'git_tag' | 'tarball_url' | 'tarball_path'

export interface JobSourceRequest {
  kind: JobSourceKind
  repo?: string
  tag?: string
  tarballUrl?: string
  tarballPath?: string
  /** hex SHA-256 the fetched archive must have */
  tarballSha256?: string
  /** empty directory the source is placed in */
  destDir: string
  /** aborted when the job's time budget runs out */
  signal: AbortSignal
}

export interface FetchedJobSource {
  /** directory holding the build context (destDir or a subdirectory of it) */
  dir: string
  /** commit for git, null otherwise */
  revision: string | null
  /** SHA-256 of the fetched archive, null for git */
  sha256: string | null
  /** the fetched archive itself, inside destDir, for the artifact store (tarball sources); absent for git */
  archivePath?: string
}

/** Fetches job sources; the job runner picks the source registered for a definition's kind. */
export interface JobSource {
  readonly name: string
  readonly kinds: readonly JobSourceKind[]
  fetch (request: JobSourceRequest): Promise<FetchedJobSource>
  close? (): Promise<void>
}

export interface ArtifactMeta {
  key: string
  size: number
  /** hex SHA-256 of the content */
  sha256: string
  contentType: string
  /** epoch ms */
  createdAt: number
}

/** Stores job outputs (GetJobArtifactMeta / GetJobArtifact). */
export interface ArtifactStore {
  readonly name: string
  put (key: string, body: Uint8Array | AsyncIterable<Uint8Array>, meta: { contentType: string }): Promise<ArtifactMeta>
  stat (key: string): Promise<ArtifactMeta | null>
  /** the content as a stream, or null when there is no such artifact */
  open (key: string): Promise<AsyncIterable<Uint8Array> | null>
  /** false when there was nothing to delete */
  delete (key: string): Promise<boolean>
  close? (): Promise<void>
}

/** Persists admin events for SSE replay when the backend cannot (capabilities.eventLog false). */
export interface EventStore {
  readonly name: string
  append (events: EventInput[]): Promise<StoredEvent[]>
  read (request: ReadEventsRequest): Promise<StoredEvent[]>
  /**
   * Optional: events older than `beforeId` (null: the newest), newest first, at most
   * `limit`; a page of it and a `read` after the same place meet without a gap or an
   * overlap (as Backend.readEventsNewestFirst). ListJobEvents uses it to find a run's
   * events from the newest end.
   */
  readNewestFirst? (request: ReadEventsBackwardRequest): Promise<StoredEvent[]>
  /** calls listener after events are appended in any process */
  subscribe? (listener: () => void): Promise<Unsubscribe>
  close? (): Promise<void>
}

/** How the runner builds an image from a fetched build context. */
export interface ImageBuildRequest {
  /** directory holding the build context */
  contextDir: string
  /** Dockerfile path relative to contextDir */
  dockerfile: string
  /** image reference to tag the result with (derived from the cache key) */
  tag: string
  /** labels put on the image (the cache key among them) */
  labels: Record<string, string>
  /** builds run without network, from the context only */
  timeoutMs: number
  signal: AbortSignal
  /** build log lines as they come */
  onOutput?: (chunk: string) => void
}

/** One hardened container run (SPEC §6: no new privileges, no capabilities, read-only root, limits). */
export interface ContainerRunSpec {
  image: string
  /** overrides the image's CMD when not empty */
  command: string[]
  /** 'NAME=value' entries */
  env: string[]
  /** labels tying the container to its run (jobs/types.ts RUN_LABEL, JOB_LABEL, WORKER_LABEL) */
  labels: Record<string, string>
  /** 'uid:gid'; never root */
  user: string
  memoryBytes?: number
  cpus?: number
  pids?: number
  /** 'none' unless configured otherwise */
  network: string
  /** stopped after this long: SIGTERM, then SIGKILL after stopGraceMs */
  timeoutMs: number
  stopGraceMs: number
  /** combined stdout+stderr kept up to this many bytes, then a truncation marker */
  outputMaxBytes: number
  /** host directory mounted read-write at /artifacts (the runner collects and caps what lands there) */
  artifactsDir?: string
  /** aborting it stops the container (cancel): SIGTERM, then SIGKILL after stopGraceMs */
  signal: AbortSignal
  /** output as it comes (already within the byte cap), for live events */
  onOutput?: (chunk: Uint8Array) => void
  /** called once the container is created, before it starts */
  onCreated?: (containerId: string) => void
}

export interface ContainerRunResult {
  containerId: string
  /** null when the container was stopped before it exited by itself */
  exitCode: number | null
  timedOut: boolean
  canceled: boolean
  /** combined output within the cap, with the marker appended when cut */
  output: Uint8Array
  /** bytes the container produced in all */
  outputBytes: number
  truncated: boolean
  startedAt: number
  finishedAt: number
}

export interface ManagedContainer {
  id: string
  labels: Record<string, string>
  running: boolean
}

/** Where job containers run (Docker Engine, podman; a Kubernetes Jobs runtime would be one more plugin). */
export interface ContainerRuntime {
  readonly name: string
  /** fails with a clear error when the engine cannot be reached */
  ping (): Promise<void>
  /** the id of the image tagged `tag`, or null when there is none (the build cache) */
  findImage (tag: string): Promise<string | null>
  buildImage (request: ImageBuildRequest): Promise<{ imageId: string }>
  /** creates, starts, waits for and removes one container */
  runContainer (spec: ContainerRunSpec): Promise<ContainerRunResult>
  /** containers carrying the label key (e.g. RUN_LABEL), running or not */
  listManagedContainers (labelKey: string): Promise<ManagedContainer[]>
  /** stops (SIGKILL) and removes; a missing container is not an error */
  removeContainer (id: string): Promise<void>
  close? (): Promise<void>
}

/** What a front end of the admin contract gets once the admin listeners run. */
export interface AdminFrontendContext {
  /** the admin contract in this process; front ends call it with the identity they authenticated */
  admin: AdminService
  /** PEM file paths of the server certificate the admin listeners use (the development CA's on the embedded default) */
  tls: { cert: string, key: string, ca: string }
  version: string
  /** what the backend is, as the start banner says it */
  backend: string
  /**
   * set by `switchyard gateway`: `admin` is the gRPC client of the remote admin service
   * at this host:port, so what it serves (backend, read-only, approval) must be asked of
   * it (GetSession), not read from this process's config
   */
  remoteTarget?: string
}

export interface RunningAdminFrontend {
  /** lines the start banner prints (e.g. `console: https://…`); called once, after start */
  banner (): string[]
  close (): Promise<void>
}

/**
 * A front end serving the admin contract on its own listener (the web console). It is
 * started only by processes that serve the admin contract (`switchyard start`, or
 * `switchyard gateway` in front of a remote one), after the admin listeners, and
 * closed before them; CLI commands never start one.
 */
export interface AdminFrontend {
  readonly name: string
  start (ctx: AdminFrontendContext): Promise<RunningAdminFrontend>
}
