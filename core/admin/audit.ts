import { randomUUID } from 'node:crypto'
import { storableText } from '../backend/storable.ts'
import { jsonByteLength } from '../contract/json-fields.ts'
import type { AuditEvent, AuditInput, Backend } from '../backend/types.ts'
import type { EventLog } from '../events/event-log.ts'
import { withDeadline } from './deadline.ts'
import type { AuditSink, AdminOptions } from './types.ts'
import { auditView } from './views.ts'

// Every mutation, allowed or not, is recorded before the caller gets an answer:
// in the backend (shared by every node, listed by ListAuditEvents) and in each sink
// (file archive, ...). In read-only mode the backend is not written at all, not even
// the audit log, so refused attempts reach the sinks only.
//
// The backend's audit store and each sink are separate destinations: a failure of
// one never keeps the record from the others. A mutation that failed because the
// backend is down still reaches every sink (its audit append fails the same way),
// and every failed write is reported to onWriteFailure (the
// switchyard_audit_write_failures_total metric, by destination).

const DEFAULT_PRUNE_INTERVAL_MS = 60_000
const MAX_STRING = 256
const MAX_ARRAY = 100
const MAX_KEYS = 32

/**
 * request parameters fit to keep: JSON values (payloads, `jsonFields`) reduced to
 * their size as `<field>Bytes`, long values cut, and text every backend can store (a
 * refused request with a NUL in it is audited too)
 */
export function auditParams (request: unknown, jsonFields: readonly string[] = []): Record<string, unknown> {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) return {}
  const params: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(request).slice(0, MAX_KEYS)) {
    if (jsonFields.includes(key)) {
      const bytes = jsonByteLength(value)
      if (bytes !== null) params[`${key}Bytes`] = bytes
    } else if (typeof value === 'string') params[key] = storableText(value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value)
    else if (typeof value === 'number' || typeof value === 'boolean') params[key] = value
    else if (Array.isArray(value)) {
      params[key] = value.slice(0, MAX_ARRAY).map(item => typeof item === 'string' ? storableText(item.slice(0, MAX_STRING)) : typeof item)
      if (value.length > MAX_ARRAY) params[`${key}Count`] = value.length
    } else params[key] = typeof value
  }
  return params
}

/** the destination label of the backend's own audit store */
export const BACKEND_AUDIT_DESTINATION = 'backend'

/** the destination label of an audit sink */
export function sinkDestination (sink: AuditSink): string {
  return `sink:${sink.name}`
}

/** thrown when a record to be persisted reached no destination at all */
export class AuditNotStored extends Error {
  constructor (readonly backendError: unknown) {
    super('the audit event reached neither the backend nor any audit sink', { cause: backendError })
  }
}

export interface AuditRecordResult {
  event: AuditEvent
  /** the backend's failure when it was asked to store the event and could not */
  backendError: unknown
  /** sinks that accepted the event */
  sinksStored: number
}

export class AuditRecorder {
  private lastPruneAt = 0
  private pruning: Promise<void> | null = null

  constructor (
    private readonly backend: Backend,
    private readonly events: EventLog,
    private readonly sinks: AuditSink[],
    private readonly options: AdminOptions,
    private readonly onError: (err: unknown, context: string) => void,
    private readonly onWriteFailure: (destination: string) => void = () => {}
  ) {}

  /**
   * Stores the event in the backend (when `persist` and the backend keeps audit) and
   * in every sink, each failure reported on its own. Answers what was stored where;
   * throws AuditNotStored only when the backend failed and no sink took the event,
   * so the caller must not claim an audited success.
   */
  async record (raw: AuditInput, persist: boolean): Promise<AuditRecordResult> {
    // the target and actor are what the caller sent, refused or not (a task id with a
    // NUL): recorded as text every backend can store, like the params
    const input: AuditInput = { ...raw, target: storableText(raw.target), actor: storableText(raw.actor), requestId: storableText(raw.requestId) }
    if (raw.error !== undefined) input.error = storableText(raw.error)
    let stored: AuditEvent | null = null
    let backendError: unknown = null
    if (persist && this.backend.capabilities.audit) {
      try {
        stored = await this.backend.appendAudit(input)
      } catch (err) {
        backendError = err
        this.failed(BACKEND_AUDIT_DESTINATION, err)
      }
    }
    // Without the backend's id the sinks still get the whole record, under a local id.
    const event = stored ?? { ...input, id: `local-${randomUUID()}`, time: Date.now() }
    const accepted = await Promise.all(this.sinks.map(async sink => {
      try {
        await withDeadline(sink.write(event), this.options.requestTimeoutMs, `audit sink ${sink.name}`)
        return true
      } catch (err) {
        this.failed(sinkDestination(sink), err)
        return false
      }
    }))
    const sinksStored = accepted.filter(Boolean).length
    if (stored !== null) {
      this.events.emit('audit', auditView(stored))
      this.maybePrune()
    }
    if (backendError !== null && sinksStored === 0) throw new AuditNotStored(backendError)
    return { event, backendError, sinksStored }
  }

  private failed (destination: string, err: unknown): void {
    this.onWriteFailure(destination)
    this.onError(err, `audit write to ${destination}`)
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
