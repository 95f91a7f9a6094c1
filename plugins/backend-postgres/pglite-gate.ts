import { appendFileSync } from 'node:fs'
import { Errors } from '@switchyard/core'

// The one way onto PGlite's single connection. PGlite serialises calls with its own
// mutex, but that queue is invisible and unbounded: a caller that gave up (its
// deadline passed) still has its query run later, on a connection every other caller
// is waiting for, and nothing says how deep the queue is or where the time goes.
// This gate keeps the queue itself:
//  - one call on the connection at a time (PGlite could not run two anyway);
//  - a call whose deadline passes while it waits leaves the queue and never runs;
//  - the queue is bounded: past `maxQueued` waiting calls a new one is refused at
//    once with BACKEND_UNAVAILABLE rather than waiting behind all of them;
//  - reads of the event log (the SSE followers') and other short reads do not wait
//    behind a backlog of writes, nor writes behind reads: the two take turns
//    (one of each when both wait), so neither starves;
//  - per kind of call: how many, time waited, time run, the deepest queue seen;
//  - the event loop gets a turn every `sliceMs` of calls. On the main thread a PGlite
//    statement runs synchronously and answers in a microtask, and the gate starts the
//    next call from that answer: a queue of calls (and the calls their callers issue
//    next) ran back to back in one drain of the microtask queue, for as long as any
//    waited. Nothing else ran meanwhile: no timer, no socket read and no accept, and
//    Node (libuv 1.45+) accepts one new connection per turn of the loop. Under a
//    burst of enqueues with SSE subscribers the loop took a turn every 0.2-1 s, so a
//    client's new connection waited seconds to a minute to be accepted (an enqueue without an
//    answer in 30 s). Past the slice the next call starts in a later turn
//    (setImmediate), after the loop polled its sockets.

export type GateLane = 'read' | 'write'

interface Waiting {
  kind: string
  lane: GateLane
  queuedAt: number
  start: () => void
  /** set once the caller stopped waiting (and the entry left its lane): the call must not run */
  gone: boolean
}

export interface GateKindStats { calls: number, waitMs: number, runMs: number, maxWaitMs: number, maxRunMs: number, expired: number, refused: number }

export interface GateStats {
  /** calls waiting now (not counting the one running) */
  queued: number
  /** the most calls seen waiting at once since the last snapshot */
  maxQueued: number
  /** how often a slice ran out with calls waiting (the loop got a turn before the next) */
  yields: number
  kinds: Record<string, GateKindStats>
}

export interface PgliteGateOptions {
  /** waiting calls beyond this are refused at once */
  maxQueued: number
  /** a JSON line of stats is appended to this file every statsEveryMs (diagnostics) */
  statsFile?: string | undefined
  statsEveryMs?: number
  /** calls run back to back for at most this long before the event loop gets a turn (default PGLITE_SLICE_MS) */
  sliceMs?: number
}

/**
 * How long calls may hold the event loop before it gets a turn. A turn polls every
 * socket: with a thousand streams and clients it costs a few ms, so a slice much
 * shorter would spend the loop on polling; much longer and new connections (one
 * accepted per turn) and timers wait behind the database.
 */
export const PGLITE_SLICE_MS = 20

export class PgliteGate {
  private readonly lanes: Record<GateLane, Waiting[]> = { read: [], write: [] }
  private running = false
  /** which lane goes next when both wait */
  private turn: GateLane = 'read'
  private kinds = new Map<string, GateKindStats>()
  private maxQueued = 0
  private readonly timer: NodeJS.Timeout | null = null
  private readonly sliceMs: number
  /** when the current slice began (performance.now()); null between slices */
  private sliceStartedAt: number | null = null
  /** whether the current slice ran out (the next call waits for endSlice) */
  private sliceSpent = false
  /** slices that ran out with calls waiting, so the loop got a turn before the next (diagnostics) */
  private yields = 0

  constructor (private readonly options: PgliteGateOptions) {
    this.sliceMs = options.sliceMs ?? PGLITE_SLICE_MS
    const file = options.statsFile
    if (file !== undefined && file !== '') {
      this.timer = setInterval(() => {
        try { appendFileSync(file, JSON.stringify({ at: new Date().toISOString(), ...this.takeStats() }) + '\n') } catch { /* diagnostics only */ }
      }, options.statsEveryMs ?? 1000)
      this.timer.unref()
    }
  }

  get queued (): number {
    return this.lanes.read.length + this.lanes.write.length
  }

  /**
   * Runs `call` alone on the connection once its turn comes. Rejects with
   * BACKEND_TIMEOUT when `timeoutMs` passes first (counting the wait; a call already
   * running keeps running, it cannot be stopped inside the engine), or at once with
   * BACKEND_UNAVAILABLE when the queue is full.
   */
  async run<T> (kind: string, lane: GateLane, timeoutMs: number, call: () => Promise<T>): Promise<T> {
    const stats = this.statsOf(kind)
    if (this.queued >= this.options.maxQueued) {
      stats.refused++
      throw Errors.backendUnavailable(`pglite: ${this.queued} calls already wait for the embedded database's one connection; refusing more rather than letting them wait (the embedded database is overloaded: use a Postgres server for this load)`, { details: { queued: this.queued, maxQueued: this.options.maxQueued } })
    }
    const queuedAt = performance.now()
    let timer: NodeJS.Timeout | undefined
    let entry: Waiting | undefined
    try {
      return await new Promise<T>((resolve, reject) => {
        let started = false
        timer = setTimeout(() => {
          if (!started && entry !== undefined) {
            entry.gone = true
            const waiting = this.lanes[entry.lane]
            const at = waiting.indexOf(entry)
            if (at >= 0) waiting.splice(at, 1)
            stats.expired++
            reject(Errors.backendTimeout(`pglite ${kind}: waited ${timeoutMs} ms for the embedded database's one connection (${this.queued} calls queued) and never ran`, { details: { timeoutMs, queued: this.queued } }))
          } else {
            reject(Errors.backendTimeout(`pglite ${kind} did not finish within ${timeoutMs} ms`, { details: { timeoutMs } }))
          }
        }, timeoutMs)
        entry = {
          kind,
          lane,
          queuedAt,
          gone: false,
          start: () => {
            started = true
            const startedAt = performance.now()
            const waited = startedAt - queuedAt
            stats.calls++
            stats.waitMs += waited
            stats.maxWaitMs = Math.max(stats.maxWaitMs, waited)
            call().then(resolve, reject).finally(() => {
              const ran = performance.now() - startedAt
              stats.runMs += ran
              stats.maxRunMs = Math.max(stats.maxRunMs, ran)
              this.running = false
              this.next()
            })
          }
        }
        this.lanes[lane].push(entry)
        this.maxQueued = Math.max(this.maxQueued, this.queued)
        this.next()
      })
    } finally {
      clearTimeout(timer)
    }
  }

  /** the stats since the last call, and starts counting anew */
  takeStats (): GateStats {
    const round = (n: number): number => Math.round(n * 10) / 10
    const kinds: Record<string, GateKindStats> = {}
    for (const [kind, k] of this.kinds) kinds[kind] = { ...k, waitMs: round(k.waitMs), runMs: round(k.runMs), maxWaitMs: round(k.maxWaitMs), maxRunMs: round(k.maxRunMs) }
    const stats = { queued: this.queued, maxQueued: this.maxQueued, yields: this.yields, kinds }
    this.kinds = new Map()
    this.maxQueued = this.queued
    this.yields = 0
    return stats
  }

  close (): void {
    if (this.timer !== null) clearInterval(this.timer)
  }

  private statsOf (kind: string): GateKindStats {
    let stats = this.kinds.get(kind)
    if (stats === undefined) {
      stats = { calls: 0, waitMs: 0, runMs: 0, maxWaitMs: 0, maxRunMs: 0, expired: 0, refused: 0 }
      this.kinds.set(kind, stats)
    }
    return stats
  }

  /**
   * A slice begins with the first call started after the last one ended, and ends at
   * the next check phase of the loop (setImmediate), which then starts whatever waits.
   * Within a slice, calls start back to back until sliceMs passed.
   */
  private readonly endSlice = (): void => {
    this.sliceStartedAt = null
    this.sliceSpent = false
    this.next()
  }

  private next (): void {
    if (this.running) return
    if (this.sliceStartedAt !== null && performance.now() - this.sliceStartedAt >= this.sliceMs) {
      // endSlice is already scheduled: it starts the next call after the loop's turn
      if (!this.sliceSpent && this.queued > 0) this.yields++
      this.sliceSpent = true
      return
    }
    for (;;) {
      const first = this.turn
      const other: GateLane = first === 'read' ? 'write' : 'read'
      const lane = this.lanes[first].length > 0 ? first : other
      const entry = this.lanes[lane].shift()
      if (entry === undefined) return
      if (entry.gone) continue
      this.turn = lane === 'read' ? 'write' : 'read'
      this.running = true
      if (this.sliceStartedAt === null) {
        this.sliceStartedAt = performance.now()
        setImmediate(this.endSlice)
      }
      entry.start()
      return
    }
  }
}
