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
//  - per kind of call: how many, time waited, time run, the deepest queue seen.

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
  kinds: Record<string, GateKindStats>
}

export interface PgliteGateOptions {
  /** waiting calls beyond this are refused at once */
  maxQueued: number
  /** a JSON line of stats is appended to this file every statsEveryMs (diagnostics) */
  statsFile?: string | undefined
  statsEveryMs?: number
}

export class PgliteGate {
  private readonly lanes: Record<GateLane, Waiting[]> = { read: [], write: [] }
  private running = false
  /** which lane goes next when both wait */
  private turn: GateLane = 'read'
  private kinds = new Map<string, GateKindStats>()
  private maxQueued = 0
  private readonly timer: NodeJS.Timeout | null = null

  constructor (private readonly options: PgliteGateOptions) {
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
    const stats = { queued: this.queued, maxQueued: this.maxQueued, kinds }
    this.kinds = new Map()
    this.maxQueued = this.queued
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

  private next (): void {
    if (this.running) return
    for (;;) {
      const first = this.turn
      const other: GateLane = first === 'read' ? 'write' : 'read'
      const lane = this.lanes[first].length > 0 ? first : other
      const entry = this.lanes[lane].shift()
      if (entry === undefined) return
      if (entry.gone) continue
      this.turn = lane === 'read' ? 'write' : 'read'
      this.running = true
      entry.start()
      return
    }
  }
}
