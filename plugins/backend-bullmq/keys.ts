import { randomBytes } from 'node:crypto'

// Where things live in Redis. BullMQ's own keys are "<prefix>:<queue>:<type>" and
// "<prefix>:<queue>:<jobId>". Switchyard's keys live under "<prefix>::sy:", which no
// BullMQ queue can own (a queue name cannot be empty), so the two never collide.

export class Keys {
  readonly own: string

  constructor (readonly prefix: string) {
    this.own = `${prefix}::sy:`
  }

  /** BullMQ's key base of one queue: every key of the queue starts with it */
  queueBase (queue: string): string { return `${this.prefix}:${queue}:` }
  queueKey (queue: string, type: string): string { return `${this.prefix}:${queue}:${type}` }

  get queues (): string { return `${this.own}queues` }
  /** task id -> queue, for the tasks Switchyard created */
  get index (): string { return `${this.own}idx` }
  get weights (): string { return `${this.own}weights` }
  get globalPause (): string { return `${this.own}paused` }
  get rateLimit (): string { return `${this.own}ratelimit` }
  get rateWindow (): string { return `${this.own}ratewindow` }
  get leaders (): string { return `${this.own}leaders` }
  leader (name: string): string { return `${this.own}leader:${name}` }
  leaderFence (name: string): string { return `${this.own}leader-fence:${name}` }
  get workers (): string { return `${this.own}workers` }
  get workerExpiry (): string { return `${this.own}workers-expiry` }
  /** worker id -> its latest heartbeat on the Redis clock */
  get workerBeats (): string { return `${this.own}workers-beat` }
  /** worker id -> "1" while an operator cordons it */
  get workerCordons (): string { return `${this.own}workers-cordoned` }
  get events (): string { return `${this.own}events` }
  /** how many events the stream holds (batches are entries, the cap counts events) */
  get eventCount (): string { return `${this.own}events:count` }
  /** "<entry id> <events>" per stream entry, oldest first, so trimming reads no entry (append-events.lua) */
  get eventIndex (): string { return `${this.own}events:index` }
  get audit (): string { return `${this.own}audit` }
  get notify (): string { return `${this.own}notify` }
  /** pub/sub channel: a queue name each time tasks become ready in it */
  get work (): string { return `${this.own}work` }
  /** hash key -> "version:updatedAt:json" of one record collection */
  records (collection: string): string { return `${this.own}rec:${collection}` }
  /** the collection's keys in a zset (all scores 0) for ordered paging */
  recordIndex (collection: string): string { return `${this.own}reci:${collection}` }
  claim (key: string): string { return `${this.own}claim:${key}` }
  canceled (queue: string): string { return `${this.own}canceled:${queue}` }
  /** jobs of a queue waiting for their parent tasks (lua/deps.lua), scored by when they were blocked */
  blocked (queue: string): string { return `${this.own}blocked:${queue}` }
  /** ready jobs of one name a lease parked (handler-filter.lua), by their prioritized score */
  parked (queue: string, name: string): string { return `${this.own}parked:${queue}:${name}` }
  /** names that have parked jobs in a queue */
  parkedNames (queue: string): string { return `${this.own}parkedh:${queue}` }
  /** ids of delayed jobs that are waiting out a retry backoff (BullMQ's delayed set mixes them with future runs) */
  retry (queue: string): string { return `${this.own}retry:${queue}` }
  /** kept counts (lua/lib/kept-counts.lua): pending jobs of a queue by name (handler) -> count */
  pendingByHandler (queue: string): string { return `${this.own}hp:${queue}` }
  /** kept counts: dead jobs (BullMQ's failed set) of a queue by name -> count */
  deadByHandler (queue: string): string { return `${this.own}hd:${queue}` }
}

// Task ids. A task Switchyard created is a BullMQ job whose id is the task id (the
// index maps it to its queue, so it survives a move to another queue). A job some
// other BullMQ producer created is named "<queue>:<jobId>": queue names cannot
// contain ":", and Switchyard's own ids never do.

export interface JobRef { queue: string, jobId: string }

// random bytes for ids are drawn 4 KB at a time: one crypto call per 512 ids, not per id
let idEntropy = Buffer.alloc(0)
let idEntropyAt = 0

let idMs = 0
let idSeq = 0

export function newTaskId (): string {
  if (idEntropyAt + 6 > idEntropy.length) {
    idEntropy = randomBytes(4096)
    idEntropyAt = 0
  }
  const random = idEntropy.toString('hex', idEntropyAt, idEntropyAt + 6)
  idEntropyAt += 6
  // A per-millisecond sequence keeps the ids one process creates in creation order:
  // lists break ties of the same millisecond by id, so tasks enqueued one after the
  // other list in that order (first in, first listed).
  const now = Date.now()
  if (now !== idMs) { idMs = now; idSeq = 0 }
  const seq = (idSeq++ % 46656).toString(36).padStart(3, '0')
  // time-ordered, never all digits (BullMQ refuses integer custom ids)
  return `t${now.toString(36)}${seq}${random}`
}

/** an id newTaskId() made (a foreign producer's id of the same shape only loses a redundant wake-up) */
export function isNewTaskId (id: string): boolean {
  return /^t[0-9a-z]{11,}[0-9a-f]{12}$/.test(id)
}

/** the task id owning an idempotency key: enqueueing the same key twice names the same job */
export function keyedTaskId (key: string): string {
  return `k${Buffer.from(key, 'utf8').toString('base64url')}`
}

export function foreignTaskId (queue: string, jobId: string): string {
  return `${queue}:${jobId}`
}

export function parseForeignId (id: string): JobRef | null {
  const at = id.indexOf(':')
  if (at <= 0 || at === id.length - 1) return null
  return { queue: id.slice(0, at), jobId: id.slice(at + 1) }
}

/** Switchyard's metadata rides in job opts under this key, so plain BullMQ code ignores it */
export const META = 'sy'
