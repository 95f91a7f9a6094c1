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
  ReadEventsRequest,
  StoredEvent,
  Unsubscribe
} from '../backend/types.ts'

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
  /** calls listener after events are appended in any process */
  subscribe? (listener: () => void): Promise<Unsubscribe>
  close? (): Promise<void>
}
