import type { Backend, ReadEventsBackwardRequest, StoredEvent } from '../backend/types.ts'
import type { EventStore } from '../plugin/kinds.ts'

// Job events (job.queued, job.fetched, job.built, job.started, job.output, job.finished,
// job.cancel_requested) go to the backend's event log, which feeds StreamEvents (SSE
// with resume), and, when a plugin registered an event store, to that store as well:
// it keeps job history apart from the busy task event log (files, longer retention).
// ListJobEvents reads the event store when there is one, else the backend's log.
//
// Forward reads start at the oldest retained event, so on a busy log (task events) a
// scan bounded at MAX_JOB_EVENTS_SCANNED never reaches a recent run. A listing of one
// run without afterId therefore starts at the newest end when the log can be read
// backwards (Backend.readEventsNewestFirst, EventStore.readNewestFirst): it walks back
// to the run's job.queued event, answers the run's oldest `limit` events oldest first,
// and the caller pages on with afterId, which the forward read serves from there. A
// listing without a run (a job's, or all job events) answers the newest `limit` events
// the same way, oldest first.

export type JobEventType =
  | 'job.queued' | 'job.fetching' | 'job.fetched' | 'job.building' | 'job.built' | 'job.started'
  | 'job.output' | 'job.finished' | 'job.cancel_requested' | 'job.retrying'

export interface JobEventData {
  job: string
  runId: string
  [field: string]: unknown
}

export interface JobEventInput {
  type: JobEventType
  data: JobEventData
}

export interface ListJobEventsRequest {
  job?: string
  runId?: string
  afterId?: string | null
  limit: number
}

/** events examined at most by one listing (the logs are read in pages and filtered) */
export const MAX_JOB_EVENTS_SCANNED = 20_000
/** events examined at most when a run's events are looked for from the newest end */
export const MAX_JOB_EVENTS_SCANNED_BACKWARD = 200_000
/**
 * The run's task is enqueued before job.queued is appended, so a fast worker's first
 * events of the run may precede it in the log: this many events older than job.queued
 * are still examined.
 */
const QUEUED_RACE_EVENTS = 1000
/**
 * Every event of a run is appended after its record was created, at the time its id
 * carries (newRunId); events older than that by more than this allowance for clocks of
 * different processes cannot belong to the run, and the walk back stops there.
 */
const RUN_CLOCK_SKEW_MS = 60_000
const RUN_ID = /^(\d{13})-[0-9a-f]{6}$/
const PAGE = 1000

/** How many events one listing examines at most, forward and from the newest end. */
export interface JobEventScanBounds {
  forward: number
  backward: number
}

export const JOB_EVENT_SCAN_BOUNDS: JobEventScanBounds = { forward: MAX_JOB_EVENTS_SCANNED, backward: MAX_JOB_EVENTS_SCANNED_BACKWARD }

export class JobEvents {
  /** `bounds` other than the defaults only for tests, which then need far smaller logs to reach them */
  constructor (
    private readonly backend: Backend,
    private readonly store: EventStore | null,
    private readonly bounds: JobEventScanBounds = JOB_EVENT_SCAN_BOUNDS
  ) {}

  /** appends to the backend's log (when it keeps one) and to the event store (when registered) */
  async append (events: JobEventInput[]): Promise<void> {
    if (events.length === 0) return
    const writes: Array<Promise<unknown>> = []
    if (this.backend.capabilities.eventLog) writes.push(this.backend.appendEvents(events))
    if (this.store !== null) writes.push(this.store.append(events))
    await Promise.all(writes)
  }

  /** job events oldest first: after `afterId`; without it, a run's first `limit` events or, without a run, the newest `limit` */
  async list (request: ListJobEventsRequest): Promise<StoredEvent[]> {
    if ((request.afterId ?? null) === null) {
      const readBack = this.store !== null
        ? this.store.readNewestFirst?.bind(this.store)
        : this.backend.capabilities.eventLog ? this.backend.readEventsNewestFirst?.bind(this.backend) : undefined
      if (readBack !== undefined) {
        const found = request.runId !== undefined
          ? await runFromNewest(readBack, request as ListJobEventsRequest & { runId: string }, this.bounds.backward)
          : await newestOf(readBack, request, this.bounds.backward)
        if (found !== null) return found
      }
    }
    return await this.listForward(request)
  }

  private async listForward (request: ListJobEventsRequest): Promise<StoredEvent[]> {
    const read = this.store !== null
      ? async (afterId: string | null, limit: number) => await (this.store as EventStore).read({ afterId, limit })
      : this.backend.capabilities.eventLog
        ? async (afterId: string | null, limit: number) => await this.backend.readEvents({ afterId, limit })
        : null
    if (read === null) return []
    const out: StoredEvent[] = []
    let afterId = request.afterId ?? null
    let scanned = 0
    while (out.length < request.limit && scanned < this.bounds.forward) {
      const page = await read(afterId, PAGE)
      scanned += page.length
      for (const event of page) {
        if (matches(event, request)) out.push(event)
        if (out.length >= request.limit) break
      }
      if (page.length < PAGE) break
      afterId = page[page.length - 1]?.id ?? afterId
    }
    return out
  }
}

/**
 * The run's oldest `limit` events, oldest first, found by walking the log back from its
 * newest event to the run's job.queued event (and QUEUED_RACE_EVENTS beyond it). Null
 * when job.queued was not reached within MAX_JOB_EVENTS_SCANNED_BACKWARD events while
 * older ones remain: the caller then falls back to the forward scan. Reaching the oldest
 * retained event without it (the start of the run fell out of retention) answers what
 * is retained.
 */
async function runFromNewest (
  readBack: (request: ReadEventsBackwardRequest) => Promise<StoredEvent[]>,
  request: ListJobEventsRequest & { runId: string },
  maxScanned: number
): Promise<StoredEvent[] | null> {
  // newest first; only the last `limit` collected (the oldest) are kept
  const kept: StoredEvent[] = []
  const created = runCreatedAt(request.runId)
  const floor = created === null ? null : created - RUN_CLOCK_SKEW_MS
  let beforeId: string | null = null
  let scanned = 0
  let pastQueued: number | null = null
  for (;;) {
    const want = Math.min(PAGE, maxScanned - scanned, pastQueued === null ? PAGE : QUEUED_RACE_EVENTS - pastQueued)
    if (want <= 0) break
    const page = await readBack({ beforeId, limit: want })
    scanned += page.length
    for (const event of page) {
      // older than the run itself: nothing further back can be the run's
      if (floor !== null && event.time < floor) return kept.reverse()
      if (pastQueued !== null) pastQueued++
      if (!matches(event, request)) continue
      kept.push(event)
      if (kept.length > request.limit) kept.shift()
      if (event.type === 'job.queued' && pastQueued === null) pastQueued = 0
    }
    if (page.length < want) return kept.reverse()
    beforeId = page[page.length - 1]?.id ?? beforeId
  }
  // the bound of the walk or the race allowance after job.queued ended it
  return pastQueued === null ? null : kept.reverse()
}

/**
 * Without a run: the newest `limit` matching events, oldest first (what `jobs logs
 * <job>` shows before it follows the stream; afterId pages on to newer ones). Null when
 * none was found within MAX_JOB_EVENTS_SCANNED_BACKWARD events while older ones remain:
 * the caller then falls back to the forward scan.
 */
async function newestOf (
  readBack: (request: ReadEventsBackwardRequest) => Promise<StoredEvent[]>,
  request: ListJobEventsRequest,
  maxScanned: number
): Promise<StoredEvent[] | null> {
  const found: StoredEvent[] = []
  let beforeId: string | null = null
  let scanned = 0
  while (found.length < request.limit) {
    const want = Math.min(PAGE, maxScanned - scanned)
    if (want <= 0) return found.length === 0 ? null : found.reverse()
    const page = await readBack({ beforeId, limit: want })
    scanned += page.length
    for (const event of page) {
      if (!matches(event, request)) continue
      found.push(event)
      if (found.length >= request.limit) break
    }
    if (page.length < want) break
    beforeId = page[page.length - 1]?.id ?? beforeId
  }
  return found.reverse()
}

/** when the run was created, from its id (newRunId); null for an id of another shape */
function runCreatedAt (runId: string): number | null {
  const match = RUN_ID.exec(runId)
  return match === null ? null : 9_999_999_999_999 - Number(match[1])
}

function matches (event: StoredEvent, request: ListJobEventsRequest): boolean {
  if (!event.type.startsWith('job.')) return false
  const data = event.data as Partial<JobEventData> | null
  if (request.job !== undefined && data?.job !== request.job) return false
  if (request.runId !== undefined && data?.runId !== request.runId) return false
  return true
}
