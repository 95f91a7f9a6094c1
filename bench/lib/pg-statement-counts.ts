// Diagnostics for a benchmark's server process (loaded with node --import): its event
// loop delay every STATS_INTERVAL_MS (p50, p99, max), its memory as Node splits it
// (V8 heap, external, array buffers), and counts the
// statements it sends to a Postgres server through pg, per statement text, with their
// time from send to answer (which includes the wait for a pool connection), and
// rewrites the totals to the file SWITCHYARD_BENCH_PG_STATS_FILE every
// STATS_INTERVAL_MS. pg_stat_statements is not loaded on every server (it needs
// shared_preload_libraries); counting at the client needs nothing from the server and
// counts this process only, not the other users of a shared server.
//
// pg is patched where the server loads it from (the one copy of the checkout), before
// any connection exists: Client.prototype.query is what both Pool.query and a pooled
// client call.
import { writeFileSync, renameSync } from 'node:fs'
import { createRequire } from 'node:module'
import { monitorEventLoopDelay } from 'node:perf_hooks'

export const PG_STATS_FILE_ENV = 'SWITCHYARD_BENCH_PG_STATS_FILE'
const STATS_INTERVAL_MS = 500
/** statement texts kept apart; the rest are counted together (bounded) */
const MAX_STATEMENTS = 200

export interface StatementCount { calls: number, ms: number, rows: number }
/** the server's event loop delay over one interval (ms): a statement's answer waits that long to be read */
export interface LoopDelay { at: number, p50: number, p99: number, max: number }
/** the server's memory as Node sees it (MB): where the resident memory the bench reads from /proc is held */
export interface ServerMemory { rss: number, heapTotal: number, heapUsed: number, external: number, arrayBuffers: number }
export interface PgStatementStats { at: number, statements: Record<string, StatementCount>, loopDelays: LoopDelay[], memory: ServerMemory }
/** intervals of loop delay kept (the newest) */
const MAX_LOOP_DELAYS = 2400

/** a statement's key: its text without whitespace runs and schema names, cut to 160 characters */
export function statementKey (text: string): string {
  return text.replace(/\s+/g, ' ').replace(/"?sy_bench_[a-z0-9_]+"?\./g, '').trim().slice(0, 160)
}

function install (file: string): void {
  const pg = createRequire(import.meta.url)('pg') as { Client: { prototype: { query: (...args: unknown[]) => unknown } } }
  const counts = new Map<string, StatementCount>()
  const count = (text: string, started: number, rows: number): void => {
    let key = statementKey(text)
    if (!counts.has(key) && counts.size >= MAX_STATEMENTS) key = '(other)'
    const entry = counts.get(key) ?? { calls: 0, ms: 0, rows: 0 }
    entry.calls++
    entry.ms += performance.now() - started
    entry.rows += rows
    counts.set(key, entry)
  }
  const original = pg.Client.prototype.query
  pg.Client.prototype.query = function (this: unknown, ...args: unknown[]) {
    const first = args[0] as string | { text?: string } | undefined
    const text = typeof first === 'string' ? first : first?.text
    if (text === undefined) return original.apply(this, args)
    const started = performance.now()
    // pg-pool's query passes a callback; a pooled client's caller takes the promise
    const last = args.length - 1
    const callback = args[last]
    if (typeof callback === 'function') {
      args[last] = (err: unknown, r: { rows?: unknown[] } | undefined) => {
        count(text, started, err === null || err === undefined ? r?.rows?.length ?? 0 : 0)
        return (callback as (...a: unknown[]) => unknown)(err, r)
      }
      return original.apply(this, args)
    }
    const result = original.apply(this, args)
    if (result instanceof Promise) result.then((r: { rows?: unknown[] }) => count(text, started, r?.rows?.length ?? 0), () => count(text, started, 0))
    return result
  }
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  const loopDelays: LoopDelay[] = []
  const write = (): void => {
    const ms = (ns: number): number => Math.round(ns / 1e5) / 10
    loopDelays.push({ at: Date.now(), p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) })
    if (loopDelays.length > MAX_LOOP_DELAYS) loopDelays.shift()
    delay.reset()
    const mb = (bytes: number): number => Math.round(bytes / 104857.6) / 10
    const m = process.memoryUsage()
    const memory = { rss: mb(m.rss), heapTotal: mb(m.heapTotal), heapUsed: mb(m.heapUsed), external: mb(m.external), arrayBuffers: mb(m.arrayBuffers) }
    const stats: PgStatementStats = { at: Date.now(), statements: Object.fromEntries(counts), loopDelays, memory }
    writeFileSync(`${file}.tmp`, JSON.stringify(stats))
    renameSync(`${file}.tmp`, file)
  }
  setInterval(write, STATS_INTERVAL_MS).unref()
}

const file = process.env[PG_STATS_FILE_ENV]
if (file !== undefined && file !== '') install(file)
