import { Queue, Worker } from 'bullmq'
import { deleteKeysContaining, freshToken, REDIS_URL } from '../lib/redis.ts'
import type { LatencySystem, ThroughputSystem } from './contract.ts'

// Plain BullMQ as its docs show it: Queue.addBulk to produce, one Worker with a
// concurrency setting to consume, default job options (completed jobs are kept,
// as Switchyard keeps succeeded tasks).

const QUEUE = 'bench'
const JOB = 'noop'

function connection () {
  const url = new URL(REDIS_URL)
  return { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null }
}

abstract class BullMQBase {
  protected readonly token = freshToken()
  protected queue: Queue | null = null
  protected worker: Worker | null = null

  constructor (protected readonly concurrency: number) {}

  async setup (): Promise<void> {
    this.queue = new Queue(QUEUE, { connection: connection(), prefix: this.token })
    await this.queue.waitUntilReady()
  }

  protected async start (handler: (data: unknown) => void): Promise<void> {
    this.worker = new Worker(QUEUE, async job => { handler(job.data) }, { connection: connection(), prefix: this.token, concurrency: this.concurrency })
    await this.worker.waitUntilReady()
  }

  async teardown (): Promise<void> {
    const errors: unknown[] = []
    if (this.worker !== null) await this.worker.close().catch((err: unknown) => errors.push(err))
    if (this.queue !== null) await this.queue.close().catch((err: unknown) => errors.push(err))
    this.worker = null
    this.queue = null
    await deleteKeysContaining(this.token)
    if (errors.length > 0) throw new AggregateError(errors, 'BullMQ teardown failed')
  }
}

export class BullMQThroughput extends BullMQBase implements ThroughputSystem {
  readonly label = 'bullmq_raw'

  async enqueueBatch (from: number, count: number): Promise<void> {
    await this.queue!.addBulk(Array.from({ length: count }, (_, k) => ({ name: JOB, data: { i: from + k } })))
  }

  startWorkers (onHandled: () => void): Promise<void> {
    return this.start(onHandled)
  }

  async allDone (expected: number): Promise<boolean> {
    const counts = await this.queue!.getJobCounts('completed', 'failed')
    if ((counts.failed ?? 0) > 0) throw new Error(`bullmq_raw: ${counts.failed} no-op jobs failed`)
    return (counts.completed ?? 0) >= expected
  }
}

export class BullMQLatency extends BullMQBase implements LatencySystem {
  readonly label = 'bullmq_raw'

  startWorkers (onStart: (sample: number) => void): Promise<void> {
    return this.start(data => onStart((data as { sample: number }).sample))
  }

  async enqueueOne (sample: number): Promise<void> {
    await this.queue!.add(JOB, { sample })
  }
}
