import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { isSwitchyardError } from '../../errors.ts'
import type { Backend, BackendCapabilities, LeasedTask, NewTask, Task } from '../types.ts'

/** What every area of the suite receives: the backend under test and a few shared tools. */
export interface ConformanceContext {
  /** the backend under test, every call bounded so a hanging method fails one case, not the run */
  backend: Backend
  capabilities: BackendCapabilities
  /** a second client of the same storage when the target offers one, else the same backend */
  peer: Backend
  /** true when `peer` is a distinct client (another node) */
  hasPeer: boolean
  /** a queue (or any) name unique to this run, readable in failures */
  name: (label: string) => string
}

export interface ConformanceArea {
  name: string
  run: (t: Test, ctx: ConformanceContext) => void
}

/** Per-case bound: a case that waits longer than this has hung, and tap reports it as such. */
export const CASE_TIMEOUT_MS = 45_000

export interface WaitForOptions {
  timeoutMs?: number
  intervalMs?: number
  /** what was awaited, for the failure message */
  what?: string
}

/**
 * Polls `check` until it returns something other than undefined/null/false and
 * returns that value; throws once the deadline passes. Correctness never rests on a
 * fixed sleep: only the polling interval is a delay.
 */
export async function waitFor<T> (check: () => Promise<T | undefined | null | false> | T | undefined | null | false, options: WaitForOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const intervalMs = options.intervalMs ?? 25
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== null && value !== false) return value
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what ?? 'a condition'}`)
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}

export function uniqueSuffix (): string {
  return randomBytes(4).toString('hex')
}

/** A fully-normalised task as core would pass it, with test-friendly defaults. */
export function newTask (queue: string, overrides: Partial<NewTask> = {}): NewTask {
  return {
    queue,
    handler: 'conformance.handler',
    payload: {},
    maxAttempts: 3,
    priority: 0,
    timeoutMs: 60_000,
    runAt: null,
    delayMs: 0,
    idempotencyKey: null,
    ...overrides
  }
}

export async function enqueueIds (backend: Backend, tasks: NewTask[]): Promise<string[]> {
  const results = await backend.enqueue(tasks)
  return results.map(r => r.id)
}

export async function enqueueOne (backend: Backend, task: NewTask): Promise<string> {
  const [result] = await backend.enqueue([task])
  if (result === undefined) throw new Error('enqueue returned no result for one task')
  return result.id
}

/** Leases exactly one task from `queue`, failing loudly when none is available. */
export async function leaseOne (backend: Backend, queue: string, leaseMs = 30_000, workerId = 'conformance-worker'): Promise<LeasedTask> {
  const [leased] = await backend.leaseTasks({ workerId, queues: [queue], limit: 1, leaseMs })
  if (leased === undefined) throw new Error(`expected a task to lease in queue ${queue}, got none`)
  return leased
}

/** Leases a specific task id, polling briefly (its runAt may be a few ms ahead of the backend clock). */
export async function leaseId (backend: Backend, queue: string, id: string, leaseMs = 30_000): Promise<LeasedTask> {
  return await waitFor(async () => {
    const leased = await backend.leaseTasks({ workerId: 'conformance-worker', queues: [queue], limit: 10, leaseMs })
    const found = leased.find(l => l.id === id)
    const others = leased.filter(l => l.id !== id)
    if (others.length > 0) await backend.releaseTasks(others.map(o => ({ id: o.id, leaseToken: o.leaseToken })))
    return found
  }, { timeoutMs: 5000, what: `task ${id} to be leasable in ${queue}` })
}

export async function mustGetTask (backend: Backend, id: string): Promise<Task> {
  const task = await backend.getTask(id)
  if (task === null) throw new Error(`task ${id} not found`)
  return task
}

/** Drives one task into the DLQ the way core does: retry while attempts remain, then dead-letter. */
export async function driveToDead (backend: Backend, queue: string, id: string, message = 'boom'): Promise<void> {
  for (;;) {
    const leased = await leaseId(backend, queue, id)
    const last = leased.attempts >= leased.maxAttempts
    const [outcome] = await backend.failTasks([{ id, leaseToken: leased.leaseToken, error: { message: `${message} #${leased.attempts}` }, retryDelayMs: last ? null : 0 }])
    if (outcome === 'dead') return
    if (outcome !== 'retrying') throw new Error(`failTasks on ${id} answered ${String(outcome)}`)
  }
}

/** Enqueues `count` tasks in `queue` and dead-letters each at once (fatal failure). */
export async function makeDead (backend: Backend, queue: string, count: number, overrides: Partial<NewTask> = {}): Promise<string[]> {
  const ids = await enqueueIds(backend, Array.from({ length: count }, (_, i) => newTask(queue, { payload: { i }, maxAttempts: 1, ...overrides })))
  for (const id of ids) {
    const leased = await leaseId(backend, queue, id)
    const [outcome] = await backend.failTasks([{ id, leaseToken: leased.leaseToken, error: { message: `fatal ${id}` }, retryDelayMs: null }])
    if (outcome !== 'dead') throw new Error(`failTasks(retryDelayMs: null) on ${id} answered ${String(outcome)}`)
  }
  return ids
}

/** Asserts that `call` rejects with a SwitchyardError coded UNSUPPORTED_BY_BACKEND. */
export async function expectUnsupported (t: Test, call: () => unknown, what: string): Promise<void> {
  try {
    await call()
    t.fail(`${what}: expected UNSUPPORTED_BY_BACKEND, the call succeeded (a silent no-op)`)
  } catch (err) {
    t.ok(isSwitchyardError(err), `${what}: throws a SwitchyardError`, { found: err })
    t.equal((err as { code?: unknown }).code, 'UNSUPPORTED_BY_BACKEND', `${what}: code UNSUPPORTED_BY_BACKEND`)
  }
}

/** `call` is refused with VALIDATION_FAILED naming `field` */
export async function refused (t: Test, what: string, call: () => Promise<unknown>, field: string): Promise<void> {
  try {
    await call()
    t.fail(`${what}: accepted`)
  } catch (err) {
    t.ok(isSwitchyardError(err) && err.code === 'VALIDATION_FAILED', `${what}: VALIDATION_FAILED`, { found: err })
    t.equal((err as { details?: { field?: unknown } }).details?.field, field, `${what}: names ${field}`)
  }
}

export type Capability = Exclude<keyof BackendCapabilities, 'taskFilters' | 'taskCount'>

/** Registers one case with the suite's timeout. */
export function conformanceCase (t: Test, name: string, fn: (t: Test) => Promise<void>): void {
  t.test(name, { timeout: CASE_TIMEOUT_MS }, fn)
}

/**
 * Registers a case that needs capabilities; when the backend declares one of them
 * off the case is reported as skipped (the capabilities area checks that the
 * method then throws UNSUPPORTED_BY_BACKEND instead).
 */
export function conformanceCaseNeeding (t: Test, ctx: ConformanceContext, caps: Capability[], name: string, fn: (t: Test) => Promise<void>): void {
  const missing = caps.filter(c => !ctx.capabilities[c])
  if (missing.length > 0) t.test(name, { skip: `backend declares ${missing.join(', ')} off` }, async () => {})
  else t.test(name, { timeout: CASE_TIMEOUT_MS }, fn)
}

/** Backend times are whole epoch ms; allow for rounding between the clock reads around a call. */
const CLOCK_SLACK_MS = 5

export function within (value: number | null | undefined, low: number, high: number): boolean {
  return typeof value === 'number' && value >= low - CLOCK_SLACK_MS && value <= high + CLOCK_SLACK_MS
}
