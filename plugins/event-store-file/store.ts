// Job events in append-only JSONL segment files. Ids are sequence numbers (16 digits,
// so they sort), given by the one writing process, so a reader resuming after an id
// never misses a later event. The newest `maxEntries` events are kept: reads never
// return older ones and whole segments that fall out are deleted. The tail is held in
// memory: the writer keeps it current as it appends; another process trusts the tail
// it read for `cacheTtlMs`, and its subscribers' polling drops it as soon as the
// files change.
import { appendFile, mkdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { EventInput, EventStore, ReadEventsBackwardRequest, ReadEventsRequest, StoredEvent, Unsubscribe } from '@switchyard/core'
import { EventStoreErrors } from './errors.ts'
import { acquireWriterLock } from './lock.ts'
import { formatId, ID_PATTERN, listSegments, readSegment, repairSegment, segmentName, type Segment } from './segments.ts'

export const STORE_NAME = 'file'
/** events one read returns at most */
export const MAX_READ_LIMIT = 10_000
/** events held in memory at most */
const MAX_CACHED = 1000
/** lines per segment at most (a segment is read whole) */
const MAX_SEGMENT_ENTRIES = 1000

export interface FileEventStoreOptions {
  /** absolute directory; created when missing */
  dir: string
  maxEntries: number
  cacheTtlMs: number
  pollIntervalMs: number
}

interface Tail {
  /** the newest events, oldest first, consecutive ids */
  events: StoredEvent[]
  /** sequence number of the newest event (0: none yet) */
  last: number
  loadedAt: number
}

export class FileEventStore implements EventStore {
  readonly name = STORE_NAME
  readonly dir: string
  readonly maxEntries: number
  readonly cacheTtlMs: number
  readonly pollIntervalMs: number
  /** lines per segment: a tenth of what is kept, so trimming deletes little at a time */
  readonly segmentEntries: number
  private tail: Tail | null = null
  private writer: { release: () => Promise<void>, segment: Segment, segmentCount: number } | null = null
  private queue: Promise<unknown> = Promise.resolve()
  private readonly listeners = new Set<() => void>()
  private poller: NodeJS.Timeout | null = null
  private lastSeen = ''
  private closed = false

  constructor (options: FileEventStoreOptions) {
    this.dir = options.dir
    this.maxEntries = options.maxEntries
    this.cacheTtlMs = options.cacheTtlMs
    this.pollIntervalMs = options.pollIntervalMs
    this.segmentEntries = Math.min(MAX_SEGMENT_ENTRIES, Math.max(1, Math.ceil(options.maxEntries / 10)))
  }

  /** Appends in order, one writer at a time; the first append takes the directory's writer lock. */
  async append (events: EventInput[]): Promise<StoredEvent[]> {
    this.assertOpen()
    if (events.length === 0) return []
    const work = this.queue.then(async () => await this.appendNow(events))
    this.queue = work.catch(() => {})
    const stored = await work
    for (const listener of this.listeners) listener()
    return stored
  }

  private async appendNow (events: EventInput[]): Promise<StoredEvent[]> {
    this.assertOpen()
    const writer = this.writer ?? await this.becomeWriter()
    const tail = this.tail as Tail
    const now = Date.now()
    const stored: StoredEvent[] = []
    let offset = 0
    while (offset < events.length) {
      if (writer.segmentCount >= this.segmentEntries) await this.rotate(writer, tail.last + 1)
      const room = this.segmentEntries - writer.segmentCount
      const batch = events.slice(offset, offset + room).map((event, i) => ({ id: formatId(tail.last + 1 + i), type: event.type, time: now, data: event.data ?? null }))
      await appendFile(writer.segment.path, batch.map(event => JSON.stringify(event) + '\n').join(''))
      writer.segmentCount += batch.length
      tail.last += batch.length
      tail.events.push(...batch)
      stored.push(...batch)
      offset += batch.length
    }
    if (tail.events.length > MAX_CACHED) tail.events.splice(0, tail.events.length - MAX_CACHED)
    tail.loadedAt = Date.now()
    return stored
  }

  private async becomeWriter (): Promise<NonNullable<FileEventStore['writer']>> {
    await mkdir(this.dir, { recursive: true })
    const release = await acquireWriterLock(this.dir)
    try {
      const segments = await listSegments(this.dir)
      const newest = segments.at(-1)
      if (newest !== undefined) await repairSegment(newest.path)
      const tail = await this.loadTail()
      const segment = newest ?? { name: segmentName(tail.last + 1), path: join(this.dir, segmentName(tail.last + 1)), first: tail.last + 1 }
      const segmentCount = newest === undefined ? 0 : tail.last - newest.first + 1
      this.writer = { release, segment, segmentCount }
      return this.writer
    } catch (err) {
      await release()
      throw err
    }
  }

  /** Starts the next segment and deletes the segments that hold only trimmed events. */
  private async rotate (writer: NonNullable<FileEventStore['writer']>, first: number): Promise<void> {
    writer.segment = { name: segmentName(first), path: join(this.dir, segmentName(first)), first }
    writer.segmentCount = 0
    // the oldest event kept once `first` is written; a segment ending before it holds only trimmed events
    const floor = first - this.maxEntries + 1
    const segments = await listSegments(this.dir)
    for (let i = 0; i + 1 < segments.length; i++) {
      if ((segments[i + 1] as Segment).first - 1 < floor) await rm((segments[i] as Segment).path, { force: true })
    }
  }

  async read (request: ReadEventsRequest): Promise<StoredEvent[]> {
    this.assertOpen()
    const limit = Math.min(Math.max(Math.trunc(request.limit), 0), MAX_READ_LIMIT)
    let after = 0
    if (request.afterId !== null && request.afterId !== undefined) {
      if (typeof request.afterId !== 'string' || !ID_PATTERN.test(request.afterId)) {
        throw EventStoreErrors.invalid(`afterId "${String(request.afterId).slice(0, 40)}" is not an id of the file event store (16 digits)`, { details: { field: 'afterId' } })
      }
      after = Number(request.afterId)
    }
    if (limit === 0) return []
    const tail = await this.currentTail()
    const floor = Math.max(1, tail.last - this.maxEntries + 1)
    const start = Math.max(after + 1, floor)
    if (start > tail.last) return []
    const cachedFirst = tail.events.length > 0 ? Number((tail.events[0] as StoredEvent).id) : tail.last + 1
    if (start >= cachedFirst) return tail.events.slice(start - cachedFirst, start - cachedFirst + limit)
    return await this.readFromDisk(start, Math.min(limit, tail.last - start + 1))
  }

  /**
   * Events older than `beforeId` (null: the newest), newest first, at most `limit`. Ids
   * are consecutive sequence numbers, so this is the forward read of the range that
   * ends just before `beforeId`, reversed.
   */
  async readNewestFirst (request: ReadEventsBackwardRequest): Promise<StoredEvent[]> {
    this.assertOpen()
    const limit = Math.min(Math.max(Math.trunc(request.limit), 0), MAX_READ_LIMIT)
    let before = Number.POSITIVE_INFINITY
    if (request.beforeId !== null && request.beforeId !== undefined) {
      if (typeof request.beforeId !== 'string' || !ID_PATTERN.test(request.beforeId)) {
        throw EventStoreErrors.invalid(`beforeId "${String(request.beforeId).slice(0, 40)}" is not an id of the file event store (16 digits)`, { details: { field: 'beforeId' } })
      }
      before = Number(request.beforeId)
    }
    if (limit === 0) return []
    const tail = await this.currentTail()
    const end = Math.min(before - 1, tail.last)
    const floor = Math.max(1, tail.last - this.maxEntries + 1)
    const start = Math.max(end - limit + 1, floor)
    if (start > end) return []
    const events = await this.read({ afterId: formatId(start - 1), limit: end - start + 1 })
    return events.filter(event => Number(event.id) <= end).reverse()
  }

  private async readFromDisk (start: number, limit: number): Promise<StoredEvent[]> {
    const segments = await listSegments(this.dir)
    const out: StoredEvent[] = []
    let from = 0
    for (let i = 0; i < segments.length; i++) if ((segments[i] as Segment).first <= start) from = i
    for (let i = from; i < segments.length && out.length < limit; i++) {
      for (const event of await readSegment((segments[i] as Segment).path)) {
        if (Number(event.id) < start) continue
        out.push(event)
        if (out.length >= limit) break
      }
    }
    return out
  }

  private async currentTail (): Promise<Tail> {
    if (this.tail !== null && (this.writer !== null || Date.now() - this.tail.loadedAt < this.cacheTtlMs)) return this.tail
    return await this.loadTail()
  }

  /** Reads the newest events from disk (up to the cache size) and remembers them. */
  private async loadTail (): Promise<Tail> {
    const segments = await listSegments(this.dir)
    const events: StoredEvent[] = []
    for (let i = segments.length - 1; i >= 0 && events.length < MAX_CACHED; i--) {
      events.unshift(...await readSegment((segments[i] as Segment).path))
    }
    if (events.length > MAX_CACHED) events.splice(0, events.length - MAX_CACHED)
    const last = events.length > 0 ? Number((events.at(-1) as StoredEvent).id) : 0
    this.tail = { events, last, loadedAt: Date.now() }
    return this.tail
  }

  /** Calls `listener` after appends of this store at once, and of another process within pollIntervalMs. */
  async subscribe (listener: () => void): Promise<Unsubscribe> {
    this.assertOpen()
    this.listeners.add(listener)
    if (this.poller === null) {
      this.lastSeen = await this.fingerprint()
      this.poller = setInterval(() => { void this.poll() }, this.pollIntervalMs)
      this.poller.unref()
    }
    return async () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0 && this.poller !== null) { clearInterval(this.poller); this.poller = null }
    }
  }

  private polling = false
  private async poll (): Promise<void> {
    if (this.polling || this.closed) return
    this.polling = true
    try {
      const seen = await this.fingerprint()
      if (seen === this.lastSeen) return
      this.lastSeen = seen
      if (this.writer === null) this.tail = null // another process appended: the cached tail is old
      else return // this process is the writer; its own appends already told the listeners
      for (const listener of this.listeners) listener()
    } catch {
      // the directory may be gone for a moment (an operator's cleanup); the next poll looks again
    } finally {
      this.polling = false
    }
  }

  /** the newest segment's name and size: changes whenever an event is appended */
  private async fingerprint (): Promise<string> {
    const newest = (await listSegments(this.dir)).at(-1)
    if (newest === undefined) return ''
    const info = await stat(newest.path).catch(() => null)
    return `${newest.name}:${info?.size ?? 0}`
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.poller !== null) { clearInterval(this.poller); this.poller = null }
    this.listeners.clear()
    await this.queue
    if (this.writer !== null) {
      await this.writer.release()
      this.writer = null
    }
  }

  private assertOpen (): void {
    if (this.closed) throw EventStoreErrors.closed(`the file event store in ${this.dir} is closed`)
  }
}

export function createFileEventStore (options: FileEventStoreOptions): FileEventStore {
  return new FileEventStore(options)
}
