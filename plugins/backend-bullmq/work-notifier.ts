import type { Redis } from 'ioredis'
import type { Unsubscribe } from '@switchyard/core'
import { isNewTaskId, type Keys } from './keys.ts'

// Work notifications. Two sources wake a subscriber:
// - Switchyard's own paths (enqueue, retry, release, recovery, requeue) PUBLISH the
//   queue name on one channel, which reaches every node at once, new queues included;
// - jobs added by plain BullMQ producers (and promoted or retried by BullMQ itself)
//   show up only in BullMQ's per-queue event stream, so a dedicated connection
//   blocks on XREAD over the streams of every known queue and wakes on "added" and
//   "waiting" entries. BullMQ's marker key is left alone: popping it would steal the
//   wake-up of plain BullMQ workers on the same queue.
// The stream also carries the entries of Switchyard's own adds ("added", then "waiting"
// with no "prev"), whose queues the enqueue PUBLISHed already: waking on those too woke
// every idle worker twice per enqueue, each time for a lease call. They are skipped;
// promotions and retries (a "waiting" with a "prev") and other producers' adds wake.
// After a read that woke nobody (Switchyard's own adds, and the "active" and
// "completed" entries its leases and acks write) the next blocking read waits
// QUIET_READ_PAUSE_MS: otherwise the "active" entry of the very lease a woken worker
// sent ends the blocking read while that lease is being answered, and the two
// replies compete for this process (measured: ~0.4 ms of a ~1.5 ms enqueue->start).
// Nothing is missed: the next read starts from the last entry seen, so a job added
// meanwhile wakes at most QUIET_READ_PAUSE_MS late; a Switchyard enqueue wakes at once
// through its PUBLISH.

/** how long one XREAD blocks; the queue list is refreshed between reads */
const BLOCK_MS = 1000
/** stream entries read per XREAD; a busier stream is skipped ahead (it has woken us already) */
const READ_COUNT = 1000
/** queues whose streams are watched at once */
const MAX_WATCHED = 1000
const READY_EVENTS = new Set(['added', 'waiting'])
const MAX_RETRY_DELAY_MS = 1000
/** the wait before the next blocking read after one that woke nobody (see the top of this file) */
const QUIET_READ_PAUSE_MS = 5

export class WorkNotifier {
  constructor (
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly commandTimeoutMs: number
  ) {}

  /** tells every subscriber, on any node, that these queues have ready tasks */
  async publish (queues: Iterable<string>): Promise<void> {
    const unique = new Set(queues)
    if (unique.size === 0) return
    // plain commands, not a pipeline: a caller sending them with others (sendTogether) gets one write
    await Promise.all([...unique].map(async queue => await this.redis.publish(this.keys.work, queue)))
  }

  async subscribe (listener: (queue: string) => void): Promise<Unsubscribe> {
    const subscription = new WorkSubscription(this.redis, this.keys, this.commandTimeoutMs, listener)
    try {
      await subscription.start()
    } catch (err) {
      await subscription.stop()
      throw err
    }
    return async () => { await subscription.stop() }
  }
}

class WorkSubscription {
  private readonly subscriber: Redis
  private readonly watcher: Redis
  private stopped = false
  private loop: Promise<void> = Promise.resolve()
  /** stream key -> last entry id seen */
  private readonly lastIds = new Map<string, string>()
  private readonly queueOfStream = new Map<string, string>()
  private refreshQueues = true
  /** ends the current pause early (stop, or a queue to watch appeared) */
  private endPause: (() => void) | null = null

  constructor (
    private readonly redis: Redis,
    private readonly keys: Keys,
    commandTimeoutMs: number,
    private readonly listener: (queue: string) => void
  ) {
    this.subscriber = redis.duplicate()
    // the blocking read legitimately waits BLOCK_MS; only beyond that is it a timeout
    this.watcher = redis.duplicate({ commandTimeout: BLOCK_MS + commandTimeoutMs })
    this.subscriber.on('error', () => {})
    this.watcher.on('error', () => {})
  }

  async start (): Promise<void> {
    this.subscriber.on('message', (_channel: string, queue: string) => {
      if (!this.queueOfStream.has(this.keys.queueKey(queue, 'events'))) {
        this.refreshQueues = true
        this.endPause?.()
      }
      this.wake(queue)
    })
    await this.subscriber.subscribe(this.keys.work)
    await this.refresh()
    this.loop = this.watch()
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.endPause?.()
    this.subscriber.removeAllListeners('message')
    // disconnecting rejects the pending blocking read, which ends the loop
    this.watcher.disconnect()
    await this.subscriber.quit().catch(() => this.subscriber.disconnect())
    await this.loop
  }

  private wake (queue: string): void {
    if (this.stopped) return
    try {
      this.listener(queue)
    } catch {
      // a listener's failure must not stop notifications for the others
    }
  }

  /** watches the streams of queues registered since the last look, from their current end */
  private async refresh (): Promise<void> {
    this.refreshQueues = false
    const queues = (await this.redis.smembers(this.keys.queues)).sort().slice(0, MAX_WATCHED)
    const fresh = queues.map(queue => ({ queue, stream: this.keys.queueKey(queue, 'events') })).filter(({ stream }) => !this.lastIds.has(stream))
    if (fresh.length === 0) return
    const ends = this.redis.pipeline()
    for (const { stream } of fresh) ends.xrevrange(stream, '+', '-', 'COUNT', 1)
    const replies = (await ends.exec()) ?? []
    fresh.forEach(({ queue, stream }, i) => {
      const [err, entries] = replies[i] ?? [null, []]
      if (err !== null) throw err
      const last = (entries as Array<[string, string[]]>)[0]
      this.lastIds.set(stream, last === undefined ? '0-0' : last[0])
      this.queueOfStream.set(stream, queue)
    })
  }

  private async watch (): Promise<void> {
    let failures = 0
    while (!this.stopped) {
      try {
        if (this.refreshQueues) await this.refresh()
        await this.readOnce()
        failures = 0
      } catch {
        if (this.stopped) return
        // connection trouble: ioredis reconnects; retry with a bounded backoff
        await this.pause(Math.min(MAX_RETRY_DELAY_MS, 50 * 2 ** Math.min(failures++, 5)))
      }
    }
  }

  private async pause (ms: number): Promise<void> {
    if (this.stopped) return
    await new Promise<void>(resolve => {
      const timer = setTimeout(() => { this.endPause = null; resolve() }, ms)
      this.endPause = () => { clearTimeout(timer); this.endPause = null; resolve() }
    })
  }

  private async readOnce (): Promise<void> {
    const streams = [...this.lastIds.keys()]
    if (streams.length === 0) {
      // nothing to watch yet: a published queue name or the next look at the registry brings one
      await this.pause(BLOCK_MS)
      this.refreshQueues = true
      return
    }
    const reply = await this.watcher.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', ...streams, ...streams.map(s => this.lastIds.get(s) as string))
    if (reply === null) {
      // a quiet period: the moment to pick up queues registered meanwhile
      this.refreshQueues = true
      return
    }
    const ready = new Set<string>()
    for (const [stream, entries] of reply) {
      const last = entries[entries.length - 1]
      if (last === undefined) continue
      // a full read means a busy stream: skip to its end rather than replay the backlog
      this.lastIds.set(stream, entries.length >= READ_COUNT ? '$' : last[0])
      const queue = this.queueOfStream.get(stream)
      if (queue === undefined) continue
      if (entries.length >= READ_COUNT || entries.some(([, fields]) => announcesWork(fields))) ready.add(queue)
    }
    for (const queue of ready) this.wake(queue)
    if (ready.size === 0) await this.pause(QUIET_READ_PAUSE_MS)
  }
}

/** an event-stream entry that makes work ready no PUBLISH announced (see the top of this file) */
function announcesWork (fields: string[]): boolean {
  if (!READY_EVENTS.has(fields[1] as string)) return false
  let jobId: string | undefined
  let prev: string | undefined
  for (let i = 2; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'jobId') jobId = fields[i + 1]
    else if (fields[i] === 'prev') prev = fields[i + 1]
  }
  return prev !== undefined || jobId === undefined || !isNewTaskId(jobId)
}
