import type { Backend, NewTask } from '@switchyard/core'
import { normalizeNewTask, DEFAULT_TASK_DEFAULTS } from '../../core/tasks/enqueue.ts'
import { createWorker, silentLogger, type Worker, type WorkerOptionsInput } from '../../core/worker/index.ts'
import { countCalls, type CallStats } from '../lib/call-counter.ts'
import type { LatencySystem, ThroughputSystem } from './contract.ts'

const QUEUE = 'bench'
const HANDLER = 'noop'

/** A fresh, empty backend and the way to throw it away (close it, drop its storage). */
export interface OpenedBackend {
  backend: Backend
  destroy (): Promise<void>
}

export type BackendOpener = () => Promise<OpenedBackend>

/**
 * The same backend with flow limits on the bench queue and handler that never saturate
 * (concurrency 1,000,000; 1,000,000,000 starts per second): what configured but
 * unsaturated flow control costs the lease path.
 */
export function withFlowLimits (open: BackendOpener): BackendOpener {
  return async () => {
    const opened = await open()
    const limit = { concurrency: 1_000_000, rate: { limit: 1_000_000_000, windowMs: 1000 } }
    await opened.backend.setFlowLimit({ kind: 'queue', name: QUEUE }, limit)
    await opened.backend.setFlowLimit({ kind: 'handler', name: HANDLER }, limit)
    return opened
  }
}

function newTask (payload: unknown): NewTask {
  // Through core's normaliser, as every producer's enqueue goes, so its cost is measured too.
  return normalizeNewTask({ handler: HANDLER, queue: QUEUE, payload }, DEFAULT_TASK_DEFAULTS)
}

abstract class SwitchyardBase {
  protected opened: OpenedBackend | null = null
  private reportCalls: (() => Record<string, CallStats>) | null = null
  protected worker: Worker | null = null

  /** taskEvents false: the worker appends no task.* events to the backend's event log */
  constructor (readonly label: string, private readonly open: BackendOpener, private readonly workerOptions: WorkerOptionsInput, private readonly taskEvents = true) {}

  protected get backend (): Backend {
    if (this.opened === null) throw new Error(`${this.label}: setup() was not called`)
    return this.opened.backend
  }

  async setup (): Promise<void> {
    this.opened = await this.open()
    await this.backend.ensureQueues([QUEUE])
  }

  /** backend round trips of the worker, per method, from the last run (see countCalls) */
  calls: Record<string, CallStats> | null = null

  protected async start (handler: (payload: unknown) => void): Promise<void> {
    const counted = countCalls(this.backend)
    this.reportCalls = counted.report
    this.worker = createWorker({
      backend: counted.backend,
      handlers: { [HANDLER]: (payload: unknown) => { handler(payload) } },
      options: { ...this.workerOptions, queues: [QUEUE] },
      log: silentLogger,
      ...(this.taskEvents ? {} : { events: false as const })
    })
    await this.worker.start()
  }

  async teardown (): Promise<void> {
    const errors: unknown[] = []
    if (this.worker !== null) await this.worker.stop().catch((err: unknown) => errors.push(err))
    this.calls = this.reportCalls?.() ?? null
    if (this.opened !== null) await this.opened.destroy().catch((err: unknown) => errors.push(err))
    this.worker = null
    this.opened = null
    if (errors.length > 0) throw new AggregateError(errors, `${this.label} teardown failed`)
  }
}

export class SwitchyardThroughput extends SwitchyardBase implements ThroughputSystem {
  async enqueueBatch (from: number, count: number): Promise<void> {
    const tasks = Array.from({ length: count }, (_, k) => newTask({ i: from + k }))
    const results = await this.backend.enqueue(tasks)
    if (results.length !== count) throw new Error(`${this.label}: enqueue of ${count} tasks returned ${results.length} results`)
  }

  startWorkers (onHandled: () => void): Promise<void> {
    return this.start(onHandled)
  }

  /** queueStats is O(queues) by contract, so polling it costs the same at any backlog */
  async allDone (expected: number): Promise<boolean> {
    const [stats] = await this.backend.queueStats([QUEUE])
    if (stats === undefined) return false
    if (stats.dead > 0) throw new Error(`${this.label}: ${stats.dead} no-op tasks were dead-lettered`)
    return stats.succeeded >= expected && stats.ready + stats.processing + stats.scheduled + stats.retrying === 0
  }
}

export class SwitchyardLatency extends SwitchyardBase implements LatencySystem {
  startWorkers (onStart: (sample: number) => void): Promise<void> {
    return this.start(payload => onStart((payload as { sample: number }).sample))
  }

  async enqueueOne (sample: number): Promise<void> {
    await this.backend.enqueue([newTask({ sample })])
  }
}
