import { randomBytes, randomUUID } from 'node:crypto'
import tap, { type Test } from 'tap'
import { createPgliteClient, createPostgresBackend, createPostgresBackendFromClient, type SqlClient } from '@switchyard/backend-postgres'
import { dropSchema, testSchema, TEST_POSTGRES_URL } from '../../plugins/backend-postgres/test-support.ts'
import type { AuditEvent, Backend, NewTask } from '../backend/types.ts'
import { EventLog } from '../events/event-log.ts'
import { DEFAULT_TASK_DEFAULTS } from '../tasks/enqueue.ts'
import { createAdminService } from './service.ts'
import type { AdminOptions, AdminServiceDeps, AuditSink, CallContext, RunningAdminService } from './types.ts'

// Shared by the admin service tests: a real backend (a private schema on the
// Postgres server, dropped afterwards; or embedded PGlite in memory), a service over
// it, and helpers that put tasks into the states the admin API acts on.

export function suffix (): string {
  return randomBytes(4).toString('hex')
}

export async function serverBackend (t: Test): Promise<Backend> {
  const schema = testSchema()
  const backend = createPostgresBackend({ connectionString: TEST_POSTGRES_URL, schema, poolSize: 3 })
  t.teardown(async () => {
    await backend.close()
    await dropSchema(schema)
  })
  await backend.init()
  return backend
}

// One in-memory PGlite engine per test process, opened on first use and closed when
// the process's tests end: opening one costs seconds, so every embedded backend gets a
// schema of its own in it (dropped afterwards), the isolation serverBackend has on the
// server. The engine is opened as createPostgresBackend({ embedded: {} }) opens its own.
let pglite: Promise<SqlClient> | null = null

export async function embeddedBackend (t: Test): Promise<Backend> {
  if (pglite === null) {
    const opening = createPgliteClient({ dataDir: undefined, statementTimeoutMs: 10_000, settings: { 'switchyard.notify': 'on' } })
    pglite = opening
    tap.teardown(async () => { await (await opening).close() })
  }
  const engine = await pglite
  const schema = testSchema()
  const backend = createPostgresBackendFromClient(engine, { schema })
  t.teardown(async () => {
    await backend.close()
    await engine.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  })
  await backend.init()
  return backend
}

export const BASE_OPTIONS: AdminOptions = {
  readOnly: false,
  requireApproval: false,
  roles: null,
  requestTimeoutMs: 5_000,
  replayLimitMax: 50,
  replayIdsMax: 5,
  auditExportLimitMax: 200,
  auditEventLimit: 10_000,
  eventPollIntervalMs: 50
}

export class MemorySink implements AuditSink {
  name = 'memory'
  events: AuditEvent[] = []
  async write (event: AuditEvent): Promise<void> { this.events.push(event) }
}

export interface Harness {
  service: RunningAdminService
  events: EventLog
  sink: MemorySink
}

export function makeService (t: Test, backend: Backend, options: Partial<AdminOptions> = {}, extra: Partial<AdminServiceDeps> = {}): Harness {
  const events = new EventLog(backend, { flushIntervalMs: 5 })
  const sink = new MemorySink()
  const service = createAdminService({
    backend,
    events,
    options: { ...BASE_OPTIONS, ...options },
    auditSinks: [sink],
    info: {
      version: '0.1.0-test',
      commit: 'test',
      backendName: backend.name,
      startedAt: Date.now() - 1000,
      weightDefaults: queue => queue === 'critical' ? 5 : 1,
      defaultQueue: 'default',
      taskDefaults: DEFAULT_TASK_DEFAULTS,
      queues: ['critical']
    },
    onError: err => { t.fail(`unexpected background error: ${String(err)}`) },
    ...extra
  })
  t.teardown(async () => {
    await service.close()
    await events.close()
  })
  return { service, events, sink }
}

export function call (actor = 'CN=admin', extra: Partial<CallContext> = {}): CallContext {
  return { actor, requestId: randomUUID(), ...extra }
}

export function newTask (queue: string, overrides: Partial<NewTask> = {}): NewTask {
  return { queue, handler: 'test.handler', payload: { n: 1 }, maxAttempts: 3, priority: 0, timeoutMs: 60_000, runAt: null, delayMs: 0, idempotencyKey: null, ...overrides }
}

/** enqueues `count` tasks and fails each fatally, as a worker would: they end in the DLQ */
export async function makeDead (backend: Backend, queue: string, count: number, handler = 'test.handler'): Promise<string[]> {
  const results = await backend.enqueue(Array.from({ length: count }, (_, i) => newTask(queue, { handler, payload: { i } })))
  const ids = results.map(result => result.id)
  const leased = await backend.leaseTasks({ workerId: 'test-worker', queues: [queue], limit: count, leaseMs: 60_000 })
  const outcomes = await backend.failTasks(leased.map(task => ({ id: task.id, leaseToken: task.leaseToken, error: { message: 'boom' }, retryDelayMs: null })))
  if (outcomes.some(outcome => outcome !== 'dead') || leased.length !== count) throw new Error('could not dead-letter the test tasks')
  return ids
}

/** waits for a condition with a deadline instead of sleeping */
export async function waitFor<T> (check: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== null && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/** the thrown error, for assertions on code and message */
export async function rejection (work: Promise<unknown>): Promise<{ code?: string, message: string, statusCode?: number, details?: Record<string, unknown> }> {
  try {
    await work
  } catch (err) {
    return err as { code?: string, message: string }
  }
  throw new Error('expected a rejection')
}

export { randomUUID }
