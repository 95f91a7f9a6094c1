import { Errors, isSwitchyardError } from '../errors.ts'
import type { Backend, Unsubscribe } from '../backend/types.ts'
import type { AdminEventT } from '../contract/messages.ts'
import { eventView } from './views.ts'

// StreamEvents is fed by the event log in the backend, so a client that reconnects
// with the last id it saw resumes exactly after it, even across a restart. Followers
// wait for a notification from the backend (any process appended) or, when the
// backend cannot notify, poll.

const PAGE_SIZE = 500
/** pages kept for followers a little behind the first reader (full and short ones, this many each) */
const CACHED_PAGES_MAX = 40
/** and for at most this long (a page read long ago may hold events since trimmed by retention) */
const CACHED_PAGE_TTL_MS = 10_000
const TAIL_PAGE_SIZE = 1000
/** a new follower skips at most this many pages to find the newest event */
const TAIL_MAX_PAGES = 1000
/** with notifications a poll only guards against a lost one */
const NOTIFIED_POLL_MS = 5_000
/**
 * Waking every waiting follower costs in proportion to their number (each reads its
 * share of the page, yields the events and writes them to its socket), whether one
 * event or a hundred came. So wakes are spaced: after one, the next waits at least
 * this long per waiting follower (up to WAKE_SPACING_MAX_MS). Appends arriving
 * meanwhile are delivered together, one round for many events. One follower is woken
 * at once (0.25 ms); a thousand at most four times a second.
 */
export const WAKE_SPACING_PER_FOLLOWER_MS = 0.25
export const WAKE_SPACING_MAX_MS = 250

/**
 * Wakes event followers; one backend subscription shared by all of them, and one
 * poll timer: every waiting follower re-reads on its tick (with notifications, only
 * to guard against a lost one). A timer per follower would have a thousand idle
 * subscribers each read the log at its own moment (hundreds of reads a second that
 * share nothing); woken together, followers at the same position share one read.
 */
export class EventWaker {
  private generation = 0
  private readonly waiters = new Set<() => void>()
  private subscription: Promise<Unsubscribe | null> | null = null
  private subscribed = false
  private ticker: NodeJS.Timeout | null = null
  /** when waiters were last woken (performance.now()), and the wake held back until the spacing passed */
  private lastWake = -Infinity
  private heldWake: NodeJS.Timeout | null = null
  /** followers woken in the last round */
  private lastRound = 0
  /** rounds in which waiting followers were woken (for tests and diagnostics) */
  wakes = 0

  constructor (private readonly backend: Backend, private readonly pollMs: number, private readonly onError: (err: unknown, context: string) => void) {}

  /** the current generation: a wait that starts from it returns at once if anything was appended since */
  mark (): number {
    this.subscribe()
    return this.generation
  }

  /**
   * resolves on the next wake round after an append, the next poll tick, or the
   * abort, whichever comes first. A follower that comes to wait after appends it has
   * not read (it was writing its last page meanwhile) joins the next spaced round
   * instead of reading at once on its own: followers coming back one by one would
   * each read the log alone, at its own moment, and each read is a page formatted
   * and written apart. When the event loop takes short turns (the PGlite gate
   * yields between slices), streams drain in different turns: reading at once
   * had 300 followers read the log 12 times as often for the same burst.
   */
  wait (since: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted === true) return Promise.resolve()
    return new Promise(resolve => {
      const done = (): void => {
        signal?.removeEventListener('abort', done)
        this.waiters.delete(done)
        if (this.waiters.size === 0) this.stopTicker()
        resolve()
      }
      signal?.addEventListener('abort', done, { once: true })
      this.waiters.add(done)
      // a tick is a new generation too: the reads it causes must not be answered from before it
      this.ticker ??= setInterval(this.notify, this.subscribed ? NOTIFIED_POLL_MS : this.pollMs)
      if (since !== this.generation) this.wakeSpaced()
    })
  }

  private readonly wakeAll = (): void => {
    if (this.heldWake !== null) clearTimeout(this.heldWake)
    this.heldWake = null
    this.lastWake = performance.now()
    this.lastRound = this.waiters.size
    if (this.waiters.size > 0) this.wakes++
    for (const wake of [...this.waiters]) wake()
  }

  /** wakes the waiters now, or once the spacing since the last wake has passed (appends meanwhile join it) */
  private wakeSpaced (): void {
    if (this.heldWake !== null) return
    // the followers of the last round count too: they come back to wait one by one
    const spacing = Math.min(WAKE_SPACING_MAX_MS, Math.max(this.waiters.size, this.lastRound) * WAKE_SPACING_PER_FOLLOWER_MS)
    const due = this.lastWake + spacing - performance.now()
    if (due <= 0) this.wakeAll()
    else this.heldWake = setTimeout(this.wakeAll, due)
  }

  private stopTicker (): void {
    if (this.ticker !== null) clearInterval(this.ticker)
    this.ticker = null
  }

  private readonly notify = (): void => {
    // a new generation at once: a follower that comes to wait after this reads again
    // without waiting for the held wake
    this.generation++
    this.wakeSpaced()
  }

  private subscribe (): void {
    if (this.subscription !== null || this.backend.subscribeEvents === undefined) return
    this.subscription = this.backend.subscribeEvents(this.notify).then(
      unsubscribe => {
        this.subscribed = true
        // a ticker started while polling slows down to the guard interval at the next waits
        this.wakeAll()
        return unsubscribe
      },
      err => { this.onError(err, 'event notifications (falling back to polling)'); return null })
  }

  async close (): Promise<void> {
    const unsubscribe = await this.subscription
    this.subscription = null
    this.subscribed = false
    this.wakeAll()
    this.stopTicker()
    if (unsubscribe !== null && unsubscribe !== undefined) await unsubscribe()
  }
}

/**
 * The pages every follower of one service reads, shared. A thousand followers woken
 * by one append would otherwise each read the same page from the backend, and under
 * a stream of appends each would read at its own moment. A read is tagged with the
 * waker generation its caller marked before it: it answers every append notified up
 * to then, so any follower at the same position that marked the same or an older
 * generation may take its answer (in flight or just read) instead of reading again.
 * A full page is kept regardless of generation: the log grows only at its end, so the
 * PAGE_SIZE events after an id never change once read (what resuming after an id
 * relies on too). The views are shared too, so their SSE text can be.
 *
 * A follower that marked a newer generation than the short page just read (or in
 * flight) at its position takes that page too when it holds events, with the
 * generation it answers for (`asOf`): it writes those events, then reads again in the
 * next wake round for what came after. Reading at once on its own instead had
 * followers coming back from their writes one by one each read the log alone, a page
 * each to format and write: with the loop taking short turns, 300 followers read
 * the log six times as often for the same burst.
 */
export class EventPages {
  private readonly inflight = new Map<string, { generation: number, page: Promise<AdminEventT[]> }>()
  private readonly full = new Map<string, { events: AdminEventT[], at: number }>()
  private readonly recent = new Map<string, { events: AdminEventT[], at: number, generation: number }>()

  constructor (private readonly backend: Backend) {}

  /**
   * the page after `afterId`: as fresh as an append notified by `generation` needs, or
   * an older page that holds events (then `asOf` is older than `generation`)
   */
  read (afterId: string | null, generation: number): Promise<PageAnswer> {
    const key = afterId ?? ''
    const now = Date.now()
    const full = this.full.get(key)
    // a full page never changes: it answers for any generation
    if (full !== undefined && now - full.at < CACHED_PAGE_TTL_MS) return Promise.resolve({ events: full.events, asOf: generation })
    const recent = this.recent.get(key)
    if (recent !== undefined && now - recent.at < CACHED_PAGE_TTL_MS && (recent.generation >= generation || recent.events.length > 0)) {
      return Promise.resolve({ events: recent.events, asOf: recent.generation })
    }
    const flying = this.inflight.get(key)
    if (flying !== undefined) {
      if (flying.generation >= generation) return flying.page.then(events => ({ events, asOf: flying.generation }))
      // older than asked: its events if it finds any, else a read of our own (or a newer one in flight)
      return flying.page.then(events => events.length > 0 ? { events, asOf: flying.generation } : this.read(afterId, generation))
    }
    return this.readNow(key, afterId, generation).then(events => ({ events, asOf: generation }))
  }

  private readNow (key: string, afterId: string | null, generation: number): Promise<AdminEventT[]> {
    const entry = {
      generation,
      page: this.backend.readEvents({ afterId, limit: PAGE_SIZE }).then(page => {
        const events = page.map(eventView)
        if (events.length === PAGE_SIZE) keep(this.full, key, { events, at: Date.now() })
        else keep(this.recent, key, { events, at: Date.now(), generation })
        return events
      }).finally(() => { if (this.inflight.get(key) === entry) this.inflight.delete(key) })
    }
    this.inflight.set(key, entry)
    return entry.page
  }
}

/** a page of the log and the waker generation it answers for: every append notified up to `asOf` is in it or after it */
export interface PageAnswer { events: AdminEventT[], asOf: number }

/** sets key (as the newest entry) and drops the oldest beyond CACHED_PAGES_MAX */
function keep<V> (cache: Map<string, V>, key: string, value: V): void {
  cache.delete(key)
  cache.set(key, value)
  // Map order is insertion order: the first key is the oldest page
  while (cache.size > CACHED_PAGES_MAX) cache.delete(cache.keys().next().value as string)
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

/** a read that timed out or found the backend busy is tried again this many times, after these pauses */
export const READ_RETRY_PAUSES_MS = [250, 1000, 2000] as const
const TRANSIENT = new Set(['BACKEND_TIMEOUT', 'BACKEND_UNAVAILABLE'])

/**
 * A page read, tried again after a pause when the backend was only slow or busy: a
 * stream (a thousand of them, sharing the read) would otherwise end on one slow read
 * under load and every client reconnect at once. Bounded: after the last pause the
 * error ends the stream, with the error event saying why.
 */
async function readWithRetries (pages: EventPages, waker: EventWaker, cursor: string | null, signal: AbortSignal | undefined): Promise<PageAnswer> {
  for (let attempt = 0; ; attempt++) {
    const generation = waker.mark()
    try {
      return await pages.read(cursor, generation)
    } catch (err) {
      const pause = READ_RETRY_PAUSES_MS[attempt]
      if (pause === undefined || aborted(signal) || !isSwitchyardError(err) || !TRANSIENT.has(err.code)) throw err
      await new Promise<void>(resolve => {
        const timer = setTimeout(done, pause)
        function done (): void { clearTimeout(timer); signal?.removeEventListener('abort', done); resolve() }
        signal?.addEventListener('abort', done, { once: true })
      })
    }
  }
}

/**
 * The log after `afterId`, a page at a time, as the backend answered it (shared with
 * every follower at the same position, so never to be modified). A transport that
 * writes a page in one go (SSE) takes pages: its cost per round is then one write,
 * whatever the number of events, where an event at a time is a few promises per
 * event and subscriber (a burst of 10,000 events to 1,000 subscribers is 10 million).
 */
export async function * followEventPages (
  backend: Backend, pages: EventPages, waker: EventWaker, tail: EventTail, afterId: string | null, signal: AbortSignal | undefined
): AsyncGenerator<readonly AdminEventT[]> {
  if (!backend.capabilities.eventLog) throw Errors.unsupported(`the ${backend.name} backend keeps no event log`, { details: { backend: backend.name } })
  let cursor = afterId
  while (!aborted(signal)) {
    const { events: page, asOf } = await readWithRetries(pages, waker, cursor, signal)
    if (page.length > 0) {
      if (aborted(signal)) return
      cursor = page[page.length - 1]!.id
      tail.seen(cursor)
      yield page
    }
    // appends notified after asOf may be missing from the page: then the next round reads again
    if (page.length < PAGE_SIZE) await waker.wait(asOf, signal)
  }
}

/** the log after `afterId`, an event at a time */
export async function * followEvents (
  backend: Backend, pages: EventPages, waker: EventWaker, tail: EventTail, afterId: string | null, signal: AbortSignal | undefined
): AsyncGenerator<AdminEventT> {
  for await (const page of followEventPages(backend, pages, waker, tail, afterId, signal)) {
    for (const event of page) {
      if (aborted(signal)) return
      yield event
    }
  }
}
