import type { Backend, StoredEvent } from '../backend/types.ts'
import type { EventStore } from '../plugin/kinds.ts'

// Job events (job.queued, job.fetched, job.built, job.started, job.output, job.finished,
// job.cancel_requested) go to the backend's event log, which feeds StreamEvents (SSE
// with resume), and, when a plugin registered an event store, to that store as well:
// it keeps job history apart from the busy task event log (files, longer retention).
// ListJobEvents reads the event store when there is one, else the backend's log.

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
const PAGE = 1000

export class JobEvents {
  constructor (private readonly backend: Backend, private readonly store: EventStore | null) {}

  /** appends to the backend's log (when it keeps one) and to the event store (when registered) */
  async append (events: JobEventInput[]): Promise<void> {
    if (events.length === 0) return
    const writes: Array<Promise<unknown>> = []
    if (this.backend.capabilities.eventLog) writes.push(this.backend.appendEvents(events))
    if (this.store !== null) writes.push(this.store.append(events))
    await Promise.all(writes)
  }

  /** job events oldest first after `afterId`, filtered by job and run */
  async list (request: ListJobEventsRequest): Promise<StoredEvent[]> {
    const read = this.store !== null
      ? async (afterId: string | null, limit: number) => await (this.store as EventStore).read({ afterId, limit })
      : this.backend.capabilities.eventLog
        ? async (afterId: string | null, limit: number) => await this.backend.readEvents({ afterId, limit })
        : null
    if (read === null) return []
    const out: StoredEvent[] = []
    let afterId = request.afterId ?? null
    let scanned = 0
    while (out.length < request.limit && scanned < MAX_JOB_EVENTS_SCANNED) {
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

function matches (event: StoredEvent, request: ListJobEventsRequest): boolean {
  if (!event.type.startsWith('job.')) return false
  const data = event.data as Partial<JobEventData> | null
  if (request.job !== undefined && data?.job !== request.job) return false
  if (request.runId !== undefined && data?.runId !== request.runId) return false
  return true
}
