import type { LeasedTask, NewTask, PushWaitRequest } from '@switchyard/core'

// Push delivery on the embedded database (capability pushDelivery, awaitPushedTasks):
// an enqueue leases a task that can start at once to an idle worker waiting for it, in
// the enqueue's own statement, so the task starts one statement after its enqueue
// instead of a NOTIFY, then the worker's lease call, then the answer. On PGlite every
// worker of the database runs in this process (the data directory is locked to it), so
// the idle workers are registered here, in memory; a Postgres server has other
// processes' workers and keeps its wake-ups.
//
// The statement decides (work.ts, enqueueSqlFor with push): a task is pushed only when
// it is ready at once, its queue is not paused, nothing is paused globally, no flow or
// rate limit is stored, and the worker is not cordoned; otherwise it is inserted as
// any other task (and wakes workers as before). This file picks the candidate worker
// per task (queue, handler, free slots) and hands the leases the statement made to
// the waits. A wait ends on its first pushes, its timeout or its signal, and returns
// only after every enqueue that picked it has answered, so a push is never left with
// a worker that stopped waiting (at worst a failed enqueue leases nothing).

interface Waiter {
  readonly workerId: string
  readonly queues: ReadonlySet<string>
  /** null: every handler */
  readonly handlers: ReadonlySet<string> | null
  readonly leaseMs: number
  /** slots not yet promised to an enqueue */
  free: number
  /** enqueues that picked this waiter and have not answered yet */
  inFlight: number
  readonly pushed: LeasedTask[]
  /** ends the wait (first push, timeout, signal, close) */
  end: () => void
  /** told when the last enqueue in flight answers */
  settled: (() => void) | null
}

/** a task an enqueue is about to push: its worker, for the statement, and how to report back */
export interface PushPlan {
  /** per task of the batch, the worker to lease it to, or null */
  workers: Array<string | null>
  /** per task, that worker's lease length (ms), or null */
  leaseMs: Array<number | null>
  /** the statement answered: the leases it made (index in the batch → task), the rest given back */
  deliver: (leased: Map<number, LeasedTask>) => void
  /** the statement failed: every slot given back */
  cancel: () => void
}

export class PushWaiters {
  private readonly waiting = new Set<Waiter>()

  get idle (): boolean {
    return this.waiting.size === 0
  }

  /**
   * The lease on registering has come back empty: waits for pushes up to req.waitMs, or
   * until req.signal aborts, and returns what was pushed.
   */
  async wait (req: PushWaitRequest): Promise<LeasedTask[]> {
    if (req.signal?.aborted === true) return []
    let end!: () => void
    const ended = new Promise<void>(resolve => { end = resolve })
    const waiter: Waiter = {
      workerId: req.workerId,
      queues: new Set(req.queues),
      handlers: req.handlers === undefined ? null : new Set(req.handlers),
      leaseMs: req.leaseMs,
      free: req.limit,
      inFlight: 0,
      pushed: [],
      end,
      settled: null
    }
    const timer = setTimeout(end, req.waitMs)
    const onAbort = (): void => end()
    req.signal?.addEventListener('abort', onAbort, { once: true })
    this.waiting.add(waiter)
    try {
      await ended
    } finally {
      this.waiting.delete(waiter)
      clearTimeout(timer)
      req.signal?.removeEventListener('abort', onAbort)
    }
    if (waiter.inFlight > 0) await new Promise<void>(resolve => { waiter.settled = resolve })
    return waiter.pushed
  }

  /**
   * Picks a waiting worker for each task that could start at once (not scheduled, no
   * parents), or null when there is no waiting worker for any of them. The statement
   * still decides, and may push none.
   */
  plan (tasks: readonly NewTask[]): PushPlan | null {
    if (this.waiting.size === 0) return null
    const workers: Array<string | null> = []
    const leaseMs: Array<number | null> = []
    const picked = new Map<number, Waiter>()
    for (const [at, task] of tasks.entries()) {
      const waiter = pushable(task) ? this.pick(task) : undefined
      workers.push(waiter?.workerId ?? null)
      leaseMs.push(waiter?.leaseMs ?? null)
      if (waiter === undefined) continue
      waiter.free--
      picked.set(at, waiter)
    }
    if (picked.size === 0) return null
    const waiters = new Set(picked.values())
    for (const waiter of waiters) waiter.inFlight++
    const finish = (leased: Map<number, LeasedTask>): void => {
      for (const [at, waiter] of picked) {
        const task = leased.get(at)
        if (task === undefined) waiter.free++
        else waiter.pushed.push(task)
      }
      for (const waiter of waiters) {
        if (waiter.pushed.length > 0) waiter.end()
        if (--waiter.inFlight === 0) waiter.settled?.()
      }
    }
    return { workers, leaseMs, deliver: finish, cancel: () => finish(new Map()) }
  }

  /** ends every wait (the backend closes) */
  endAll (): void {
    for (const waiter of this.waiting) waiter.end()
  }

  private pick (task: NewTask): Waiter | undefined {
    for (const waiter of this.waiting) {
      if (waiter.free > 0 && waiter.queues.has(task.queue) && (waiter.handlers === null || waiter.handlers.has(task.handler))) return waiter
    }
    return undefined
  }
}

/** ready at once by what the request says (the statement checks the time itself) */
function pushable (task: NewTask): boolean {
  if (task.dependsOn !== undefined && task.dependsOn.length > 0) return false
  if (task.runAt !== null && task.runAt !== undefined) return task.runAt <= Date.now()
  return (task.delayMs ?? 0) <= 0
}
