// The admin service the admin-read benchmarks measure: every read computed afresh
// (readReuseMs 0), no guardrails in the way, the benchmark's queues as the configured ones.
import type { Backend } from '@switchyard/core'
import { EventLog } from '../../core/events/event-log.ts'
import { createAdminService } from '../../core/admin/index.ts'

/** the service and its event log, which the caller closes when done */
export function createFreshReadAdminService (backend: Backend, backendName: string, queues: string[]): { service: ReturnType<typeof createAdminService>, events: EventLog } {
  const events = new EventLog(backend)
  const service = createAdminService({
    backend,
    events,
    options: { readOnly: false, requireApproval: false, roles: null, requestTimeoutMs: 10_000, replayLimitMax: 1000, replayIdsMax: 1000, auditExportLimitMax: 10_000, auditEventLimit: 10_000, readReuseMs: 0 },
    info: { version: 'bench', commit: 'bench', backendName, startedAt: Date.now(), weightDefaults: () => 1, defaultQueue: queues[0]!, queues, taskDefaults: { queue: queues[0]!, maxAttempts: 3, priority: 0, timeoutMs: 60_000 } }
  })
  return { service, events }
}
