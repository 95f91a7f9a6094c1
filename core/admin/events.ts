import { Errors, isSwitchyardError } from '../errors.ts'
import type { Backend, Unsubscribe } from '../backend/types.ts'
import type { AdminEventT } from '../contract/messages.ts'
import { eventView } from './views.ts'

// StreamEvents is fed by the event log in the backend, so a client that reconnects
// with the last id it saw resumes exactly after it, even across a restart. Followers
// wait for a notification from the backend (any process appended) or, when the
// backend cannot notify, poll.

const PAGE_SIZE = 500
const TAIL_PAGE_SIZE = 1000
/** a new follower skips at most this many pages to find the newest event */
const TAIL_MAX_PAGES = 1000
/** with notifications a poll only guards against a lost one */
const NOTIFIED_POLL_MS = 5_000

/** wakes event followers; one backend subscription shared by all of them */
export class EventWaker {
  private generation = 0
  private readonly waiters = new Set<() => void>()
  private subscription: Promise<Unsubscribe | null> | null = null
  private subscribed = false

  constructor (private readonly backend: Backend, private readonly pollMs: number, private readonly onError: (err: unknown, context: string) => void) {}

  /** the current generation: a wait that starts from it returns at once if anything was appended since */
  mark (): number {
    this.subscribe()
    return this.generation
  }

  wait (since: number, signal: AbortSignal | undefined): Promise<void> {
    if (since !== this.generation || signal?.aborted === true) return Promise.resolve()
    return new Promise(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        this.waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, this.subscribed ? NOTIFIED_POLL_MS : this.pollMs)
      signal?.addEventListener('abort', done, { once: true })
      this.waiters.add(done)
    })
  }

  private readonly notify = (): void => {
    this.generation++
    for (const wake of [...this.waiters]) wake()
  }

  private subscribe (): void {
    if (this.subscription !== null || this.backend.subscribeEvents === undefined) return
    this.subscription = this.backend.subscribeEvents(this.notify).then(
      unsubscribe => { this.subscribed = true; return unsubscribe },
      err => { this.onError(err, 'event notifications (falling back to polling)'); return null })
  }

  async close (): Promise<void> {
    const unsubscribe = await this.subscription
    this.subscription = null
    this.subscribed = false
    for (const wake of [...this.waiters]) wake()
    if (unsubscribe !== null && unsubscribe !== undefined) await unsubscribe()
  }
}

/**
 * Finds the id after which only new events will come. The contract reads oldest
 * first, so this pages forward, starting from the newest id any follower of this
 * service has already seen.
 */
export class EventTail {
  private known: string | null = null

  constructor (private readonly backend: Backend) {}

  seen (id: string): void {
    this.known = id
  }

  async find (): Promise<string | null> {
    let cursor = this.known
    for (let pages = 0; pages < TAIL_MAX_PAGES; pages++) {
      const page = await this.backend.readEvents({ afterId: cursor, limit: TAIL_PAGE_SIZE })
      cursor = page[page.length - 1]?.id ?? cursor
      if (page.length < TAIL_PAGE_SIZE) break
    }
    if (cursor !== null) this.known = cursor
    return cursor
  }
}

/**
 * The one resume id every backend accepts: replay from the oldest retained event.
 * Event ids are otherwise opaque; no backend issues this one.
 */
export const FROM_OLDEST_EVENT_ID = '0'

/**
 * Refuses, before a stream opens, an id the backend did not issue: the backend judges
 * its own ids (VALIDATION_FAILED) on a one-event read. The error names the field and
 * its HTTP header, so a client sending a bad Last-Event-ID gets a 400 and not a
 * stream that fails after its first line.
 */
export async function assertEventId (backend: Backend, afterId: string): Promise<void> {
  try {
    await backend.readEvents({ afterId, limit: 1 })
  } catch (err) {
    if (!isSwitchyardError(err) || err.code !== 'VALIDATION_FAILED') throw err
    throw Errors.validation(
      `afterId (HTTP header Last-Event-ID): ${JSON.stringify(afterId.length > 64 ? `${afterId.slice(0, 61)}...` : afterId)} is not an event id of the ${backend.name} backend; ` +
      `send an id the stream gave, or "${FROM_OLDEST_EVENT_ID}" to replay from the oldest retained event`,
      { cause: err, details: { field: 'afterId', header: 'Last-Event-ID' } }
    )
  }
}

function aborted (signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

export async function * followEvents (
  backend: Backend, waker: EventWaker, tail: EventTail, afterId: string | null, signal: AbortSignal | undefined
): AsyncGenerator<AdminEventT> {
  if (!backend.capabilities.eventLog) throw Errors.unsupported(`the ${backend.name} backend keeps no event log`, { details: { backend: backend.name } })
  let cursor = afterId
  while (!aborted(signal)) {
    const generation = waker.mark()
    const page = await backend.readEvents({ afterId: cursor, limit: PAGE_SIZE })
    for (const event of page) {
      if (aborted(signal)) return
      cursor = event.id
      yield eventView(event)
    }
    if (cursor !== null) tail.seen(cursor)
    if (page.length < PAGE_SIZE) await waker.wait(generation, signal)
  }
}
