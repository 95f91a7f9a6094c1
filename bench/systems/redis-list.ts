import type { Redis } from 'ioredis'
import { connectRedis, deleteKeysContaining, freshToken } from '../lib/redis.ts'
import type { LatencySystem, ThroughputSystem } from './contract.ts'

// The ceiling for a queue on Redis: Redis's reliable-queue pattern with nothing else.
// Producers LPUSH task payloads onto a pending list (a batch is one LPUSH). The
// consumer moves each task it takes to a processing list with LMOVE (so a crashed
// consumer's tasks stay visible), runs it, and acknowledges it with LREM from the
// processing list; a counter (INCRBY, one per round trip) records how many are done.
// A round trip is one pipeline: the acknowledgements of every task finished since the
// last one, then one LMOVE per free slot (at most `concurrency` tasks in flight).
// When the pending list is empty and nothing is in flight, the consumer blocks in
// BLMOVE on a second connection, so an idle consumer starts a new task at once.
// No task state, no retries, no events, no schedule: what any queue on Redis must at
// least do per task, pipelined the way a careful client would.

const IDLE_BLOCK_SECONDS = 0.5

abstract class RedisListBase {
  protected readonly token = freshToken()
  protected readonly pending = `${this.token}:pending`
  private readonly processing = `${this.token}:processing`
  private readonly doneKey = `${this.token}:done`
  protected client: Redis | null = null
  private blocker: Redis | null = null
  private running = false
  private loop: Promise<void> | null = null
  private inFlight = 0
  private acks: string[] = []
  private wake: (() => void) | null = null

  constructor (protected readonly concurrency: number) {}

  async setup (): Promise<void> {
    this.client = connectRedis()
    await this.client.connect()
  }

  protected async start (handler: (payload: string) => void | Promise<void>): Promise<void> {
    this.blocker = connectRedis()
    await this.blocker.connect()
    this.running = true
    this.loop = this.consume(handler)
  }

  private dispatch (item: string, handler: (payload: string) => void | Promise<void>): void {
    this.inFlight++
    void Promise.resolve().then(() => handler(item)).then(() => {
      this.acks.push(item)
      this.inFlight--
      this.nudge()
    }, (err: unknown) => {
      // a no-op handler does not fail; if one does, the benchmark must not count it
      this.running = false
      this.failure = err
      this.nudge()
    })
  }

  private failure: unknown = null

  private nudge (): void {
    const wake = this.wake
    this.wake = null
    wake?.()
  }

  private async consume (handler: (payload: string) => void | Promise<void>): Promise<void> {
    const client = this.client!
    while (this.running) {
      const acks = this.acks.splice(0)
      const free = this.concurrency - this.inFlight
      if (acks.length === 0 && free === 0) {
        await new Promise<void>(resolve => { this.wake = resolve })
        continue
      }
      const pipe = client.pipeline()
      for (const item of acks) pipe.lrem(this.processing, -1, item)
      if (acks.length > 0) pipe.incrby(this.doneKey, acks.length)
      for (let k = 0; k < free; k++) pipe.lmove(this.pending, this.processing, 'RIGHT', 'LEFT')
      const replies = (await pipe.exec()) ?? []
      const firstError = replies.find(([err]) => err !== null)
      if (firstError !== undefined) throw firstError[0]!
      let taken = 0
      for (const [, item] of replies.slice(replies.length - free)) {
        if (typeof item === 'string') { taken++; this.dispatch(item, handler) }
      }
      if (taken > 0 || this.acks.length > 0) continue
      if (this.inFlight > 0) {
        await new Promise<void>(resolve => { this.wake = resolve })
        continue
      }
      // nothing pending, nothing in flight: wait for the next task in Redis itself
      const item = await this.blocker!.blmove(this.pending, this.processing, 'RIGHT', 'LEFT', IDLE_BLOCK_SECONDS).catch((err: unknown) => {
        if (this.running) throw err
        return null
      })
      if (item !== null && this.running) this.dispatch(item, handler)
    }
    if (this.failure !== null) throw this.failure
  }

  /** done counter, and whether anything is still pending or in processing */
  protected async counts (): Promise<{ done: number, left: number }> {
    const replies = (await this.client!.pipeline().get(this.doneKey).llen(this.pending).llen(this.processing).exec()) ?? []
    const firstError = replies.find(([err]) => err !== null)
    if (firstError !== undefined) throw firstError[0]!
    return { done: Number(replies[0]![1] ?? 0), left: Number(replies[1]![1]) + Number(replies[2]![1]) }
  }

  protected checkLoop (): void {
    if (this.failure !== null) throw this.failure
  }

  async teardown (): Promise<void> {
    const errors: unknown[] = []
    this.running = false
    this.nudge()
    this.blocker?.disconnect()
    if (this.loop !== null) await this.loop.catch((err: unknown) => errors.push(err))
    this.client?.disconnect()
    this.loop = null
    this.blocker = null
    this.client = null
    await deleteKeysContaining(this.token)
    if (errors.length > 0) throw new AggregateError(errors, 'redis list queue teardown failed')
  }
}

export class RedisListThroughput extends RedisListBase implements ThroughputSystem {
  readonly label = 'redis_list_raw'

  async enqueueBatch (from: number, count: number): Promise<void> {
    // LPUSH a b c leaves c b a: the consumer takes from the right, so tasks run in order
    await this.client!.lpush(this.pending, ...Array.from({ length: count }, (_, k) => JSON.stringify({ i: from + k })))
  }

  startWorkers (onHandled: () => void): Promise<void> {
    return this.start(payload => { JSON.parse(payload); onHandled() })
  }

  async allDone (expected: number): Promise<boolean> {
    this.checkLoop()
    const { done, left } = await this.counts()
    return done >= expected && left === 0
  }
}

export class RedisListLatency extends RedisListBase implements LatencySystem {
  readonly label = 'redis_list_raw'

  startWorkers (onStart: (sample: number) => void): Promise<void> {
    return this.start(payload => onStart((JSON.parse(payload) as { sample: number }).sample))
  }

  async enqueueOne (sample: number): Promise<void> {
    await this.client!.lpush(this.pending, JSON.stringify({ sample }))
  }
}
