import { randomUUID } from 'node:crypto'
import { storableText } from '../backend/storable.ts'
import type { AuditEvent, AuditInput, Backend } from '../backend/types.ts'
import type { EventLog } from '../events/event-log.ts'
import { withDeadline } from './deadline.ts'
import type { AuditSink, AdminOptions } from './types.ts'
import { auditView } from './views.ts'

// Every mutation, allowed or not, is recorded before the caller gets an answer:
// in the backend (shared by every node, listed by ListAuditEvents) and in each sink
// (file archive, ...). In read-only mode the backend is not written at all, not even
// the audit log, so refused attempts reach the sinks only.

const DEFAULT_PRUNE_INTERVAL_MS = 60_000
const MAX_STRING = 256
const MAX_ARRAY = 100
const MAX_KEYS = 32

/**
 * request parameters fit to keep: payloads reduced to their size, long values cut,
 * and text every backend can store (a refused request with a NUL in it is audited too)
 */
export function auditParams (request: unknown): Record<string, unknown> {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) return {}
  const params: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(request).slice(0, MAX_KEYS)) {
    if (key === 'payloadJson' && typeof value === 'string') params.payloadBytes = Buffer.byteLength(value)
    else if (typeof value === 'string') params[key] = storableText(value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value)
    else if (typeof value === 'number' || typeof value === 'boolean') params[key] = value
    else if (Array.isArray(value)) {
      params[key] = value.slice(0, MAX_ARRAY).map(item => typeof item === 'string' ? storableText(item.slice(0, MAX_STRING)) : typeof item)
      if (value.length > MAX_ARRAY) params[`${key}Count`] = value.length
    } else params[key] = typeof value
  }
  return params
}

export class AuditRecorder {
  private lastPruneAt = 0
  private pruning: Promise<void> | null = null

  constructor (
    private readonly backend: Backend,
    private readonly events: EventLog,
    private readonly sinks: AuditSink[],
    private readonly options: AdminOptions,
    private readonly onError: (err: unknown, context: string) => void
  ) {}

  /**
   * Stores the event (backend when `persist` and the backend keeps audit, then every
   * sink). A backend failure is thrown: the caller must not claim an unaudited
   * success. A sink failure is reported and does not fail the call.
   */
  async record (input: AuditInput, persist: boolean): Promise<AuditEvent> {
    const stored = persist && this.backend.capabilities.audit
      ? await this.backend.appendAudit(input)
      : { ...input, id: `local-${randomUUID()}`, time: Date.now() }
    await Promise.all(this.sinks.map(async sink => {
      try {
        await withDeadline(sink.write(stored), this.options.requestTimeoutMs, `audit sink ${sink.name}`)
      } catch (err) {
        this.onError(err, `audit sink ${sink.name}`)
      }
    }))
    if (persist) {
      this.events.emit('audit', auditView(stored))
      this.maybePrune()
    }
    return stored
  }

  /** retention runs at most once per interval, in the background, after a write */
  private maybePrune (): void {
    const interval = this.options.auditPruneIntervalMs ?? DEFAULT_PRUNE_INTERVAL_MS
    if (this.pruning !== null || !this.backend.capabilities.audit || Date.now() - this.lastPruneAt < interval) return
    this.lastPruneAt = Date.now()
    this.pruning = this.prune()
      .then(() => undefined, err => this.onError(err, 'audit retention'))
      .finally(() => { this.pruning = null })
  }

  /** applies WORKER_ADMIN_AUDIT_EVENT_LIMIT and WORKER_ADMIN_AUDIT_RETENTION now; answers how many events went */
  async prune (): Promise<number> {
    return await this.backend.pruneAudit({ maxCount: this.options.auditEventLimit, maxAgeMs: this.options.auditRetentionMs })
  }

  async close (): Promise<void> {
    await this.pruning
  }
}
