import { Redis } from 'ioredis'
import { MAX_LIST_LIMIT, type LeaseRequest, type LeasedTask, type PushWaitRequest } from '@switchyard/core'
import type { LeasedJob } from './bullmq-batch.ts'
import type { Keys } from './keys.ts'
import { defineScripts, runPlainScript } from './scripts.ts'

// Push delivery (capability pushDelivery; lua/lib/push.lua, lib/push-lease.lua): an idle
// worker registers for its queues and blocks on an inbox of its own; the add of fresh
// ready jobs (add-fresh.lua) leases them to it with BullMQ's moveToActive and appends the
// leases to that inbox, so the worker starts them from its blocking read, one hop after
// the add, instead of a wake-up (PUBLISH) followed by a lease script.

/** A push registration outlives the wait it was made for by this much: a worker still waiting is always registered, one that died stops receiving pushes soon after. */
const PUSH_REGISTRATION_SLACK_MS = 1000
/** A worker's blocking connection closes after this long without a wait (see blockingFor). */
const BLOCKING_IDLE_CLOSE_MS = 30_000
/** The marker a wait appends to its own inbox to end early: a lease is never empty. */
const PUSH_WAKE = ''
/** Blocking connections at most (one per worker id that waits); beyond this a wait uses a short-lived one. */
const MAX_BLOCKING_CONNECTIONS = 1000

interface BlockingConnection { client: Redis, idle: NodeJS.Timeout | undefined, inUse: number }

export interface PushSeams {
  /** the lease a wait takes on registering (leaseTasks) */
  lease: (req: LeaseRequest) => Promise<LeasedTask[]>
  /** a pushed lease as the task it is (the backend's takeLeased): null when it had to be failed instead */
  take: (job: LeasedJob, leaseMs: number) => Promise<LeasedTask | null>
}

export class PushWaits {
  /** per worker id, the connection its waits block on (never the shared one) */
  private readonly blocking = new Map<string, BlockingConnection>()

  constructor (
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly seams: PushSeams
  ) {}

  /**
   * Registers the worker as idle (push-wait.lua), leases once so nothing ready before the
   * registration waits for the next one, and when that finds nothing blocks on the
   * worker's inbox (BLPOP on its own connection). push-done.lua, which unregisters and
   * takes what else the inbox holds, goes out on that connection right behind the BLPOP:
   * Redis runs it as soon as the BLPOP returns, so a push costs the worker one round trip.
   * An abort appends a wake-up marker to the inbox, which ends the BLPOP.
   */
  async wait (req: PushWaitRequest): Promise<LeasedTask[]> {
    const slots = Math.min(req.limit, MAX_LIST_LIMIT)
    if (slots === 0 || req.queues.length === 0 || req.handlers?.length === 0) return []
    const queues = req.queues.filter(queue => typeof queue === 'string' && queue.length > 0 && !queue.includes(':'))
    if (queues.length === 0) return []
    const lease: LeaseRequest = { workerId: req.workerId, queues, limit: slots, leaseMs: req.leaseMs }
    if (req.handlers !== undefined) lease.handlers = req.handlers
    const own = this.keys.own
    const inbox = `${own}pb:${req.workerId}`
    const only = req.handlers === undefined ? [-1] : [req.handlers.length, ...req.handlers]
    const signal = req.signal
    const wake = (): void => { this.redis.rpush(inbox, PUSH_WAKE).catch(() => {}) }
    const blocking = this.blockingFor(req.workerId)
    try {
      await runPlainScript(this.redis, 'push-wait', [], [own, req.workerId, slots, req.leaseMs, req.waitMs + PUSH_REGISTRATION_SLACK_MS, ...only, ...queues])
      // after the registration, which empties the inbox: a marker appended before it would be lost
      signal?.addEventListener('abort', wake, { once: true })
      // registered even when this lease fails: the wait always ends with push-done
      let leased: LeasedTask[] = []
      let failure: unknown = null
      try {
        leased = await this.seams.lease(lease)
      } catch (err) {
        failure = err
      }
      const waiting = failure === null && leased.length === 0 && signal?.aborted !== true
      const popped = waiting ? blocking.client.blpop(inbox, req.waitMs / 1000) : null
      const drained = runPlainScript(blocking.client, 'push-done', [], [own, req.workerId]) as Promise<string[]>
      const [first, rest] = await Promise.all([popped, drained])
      if (first !== null) rest.unshift(first[1])
      for (const item of rest) {
        if (item === PUSH_WAKE) continue
        const [queue, jobId, token, flat, expiresAt] = JSON.parse(item) as [string, string, string, string[], string]
        const task = await this.seams.take([queue, jobId, token, flat, Number(expiresAt)], req.leaseMs)
        if (task !== null) leased.push(task)
      }
      // jobs pushed before the lease failed are this worker's now: they are returned, not lost
      if (failure !== null && leased.length === 0) throw failure
      return leased
    } finally {
      signal?.removeEventListener('abort', wake)
      this.releaseBlocking(req.workerId, blocking)
    }
  }

  /** closes every blocking connection (the backend is closing) */
  close (): void {
    for (const entry of this.blocking.values()) {
      clearTimeout(entry.idle)
      entry.client.disconnect()
    }
    this.blocking.clear()
  }

  /**
   * The worker's blocking connection, made on its first wait. A worker waits again and
   * again while idle and not at all while busy; one that made no call for
   * BLOCKING_IDLE_CLOSE_MS (it stopped, or has been busy that long) has it closed.
   */
  private blockingFor (workerId: string): BlockingConnection {
    let entry = this.blocking.get(workerId)
    if (entry === undefined) {
      // no command timeout: a BLPOP blocks for its own timeout (the backend's call deadline covers the whole wait)
      const client = this.redis.duplicate({ commandTimeout: undefined, lazyConnect: false })
      client.on('error', () => {})
      defineScripts(client)
      entry = { client, idle: undefined, inUse: 0 }
      if (this.blocking.size < MAX_BLOCKING_CONNECTIONS) this.blocking.set(workerId, entry)
    }
    clearTimeout(entry.idle)
    entry.inUse++
    return entry
  }

  private releaseBlocking (workerId: string, entry: BlockingConnection): void {
    if (--entry.inUse > 0) return
    if (this.blocking.get(workerId) !== entry) {
      entry.client.disconnect()
      return
    }
    entry.idle = setTimeout(() => {
      if (this.blocking.get(workerId) !== entry || entry.inUse > 0) return
      this.blocking.delete(workerId)
      entry.client.disconnect()
    }, BLOCKING_IDLE_CLOSE_MS)
    entry.idle.unref()
  }
}
