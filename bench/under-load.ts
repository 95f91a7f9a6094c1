// The gateway under load, as issue 14 asks: `switchyard start` (embedded PGlite by
// default, or --backend postgres|redis|bullmq) in its own process, then
//   A. `--clients` (200) concurrent mutual-TLS keep-alive operators for `--seconds`
//      (60): 90 % reads (overview, queues, tasks, DLQ), 10 % mutations (enqueue,
//      pause/resume a queue, cancel a task). Zero errors expected; p50/p99 per kind;
//   B. `--subscribers` (1,000) SSE streams of /admin/v1/events, then a burst of
//      `--events` (10,000) events: every subscriber must receive every event, in the
//      log's order, none twice; delivery latency (append → received) percentiles.
// The server's resident memory is read from /proc before, during (peak) and after
// each phase. Load generators run in worker threads of this process, never in the
// server's.
import { Worker } from 'node:worker_threads'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createHttpAdminClient, type HttpAdminClient } from '../core/transport/http-client.ts'
import type { AdminEventT } from '../core/contract/messages.ts'
import { envAssignments, parseFlags, positiveInteger } from './lib/args.ts'
import { progress, round } from './lib/report.ts'
import { summarize } from './lib/stats.ts'
import { cpuMs, faultsAndSystemMs, treeMemory, type TreeMemory } from './lib/startup-process.ts'
import { BACKENDS, startUnderLoadServer, type ServerDiagnostics, type UnderLoadBackend, type UnderLoadServer } from './lib/under-load-server.ts'
import { OwnBackendCpu } from './lib/postgres-usage.ts'
import { brkHeapMb } from './lib/malloc-heap.ts'
import { PG_STATS_FILE_ENV, type PgStatementStats, type ServerMemory, type StatementCount } from './lib/pg-statement-counts.ts'
import { readdir, readFile, stat } from 'node:fs/promises'
import type { OperatorPlan, OperatorResult, KindResult } from './lib/operator-load.ts'
import type { SubscriberPlan, SubscriberResult } from './lib/sse-subscribers.ts'
import type { BenchResult } from './lib/types.ts'

const HISTOGRAM_MS = 120_000
const MEMORY_SAMPLE_MS = 250
/** memory is read again this long after a phase, once the process had a moment to collect */
const SETTLE_MS = 5_000
const BURST_CONCURRENCY = 50
const LIST_EVENTS_PAGE = 500
/** the server rewrites its statement counts this often (bench/lib/pg-statement-counts.ts); a read waits a little longer */
const STATEMENT_COUNTS_SETTLE_MS = 700
/** statements listed per phase, most called first */
const TOP_STATEMENTS = 8

/**
 * What the server side spent over a span of phase B, read around it: the server
 * process's CPU, the CPU of the Postgres backends serving it (Postgres on this
 * machine only) and, with --statement-counts, the statements it sent. Load-independent
 * where wall time is not: the machine is shared.
 */
interface ServerCosts {
  serverCpuMs: number | null
  /** the server's minor page faults and system CPU so far */
  kernel: { minorFaults: number, systemMs: number } | null
  postgresCpuMs: number | null
  statements: PgStatementStats | null
}

class ServerCostReader {
  private readonly postgres: OwnBackendCpu | null

  constructor (private readonly server: UnderLoadServer, private readonly statsFile: string | null) {
    this.postgres = server.backendName === 'postgres' ? new OwnBackendCpu(() => [server.pid]) : null
  }

  /**
   * Reads the Postgres backends' CPU now without reporting it: a backend the pool
   * closes later (idle for 30 s while the streams catch up) keeps what it showed here.
   * Without it the burst's backends were missed when delivery outlasted the pool's idle timeout.
   */
  async sampleBackends (): Promise<void> {
    await this.postgres?.seconds().catch(() => null)
  }

  /** the server's memory as Node splits it (with --statement-counts), as last written */
  async memory (): Promise<ServerMemory | null> {
    if (this.statsFile === null) return null
    await new Promise(resolve => setTimeout(resolve, STATEMENT_COUNTS_SETTLE_MS))
    return (JSON.parse(await readFile(this.statsFile, 'utf8')) as PgStatementStats).memory
  }

  async read (): Promise<ServerCosts> {
    let statements: PgStatementStats | null = null
    if (this.statsFile !== null) {
      await new Promise(resolve => setTimeout(resolve, STATEMENT_COUNTS_SETTLE_MS))
      statements = JSON.parse(await readFile(this.statsFile, 'utf8')) as PgStatementStats
    }
    const postgresSeconds = this.postgres === null ? null : await this.postgres.seconds().catch(() => null)
    return { serverCpuMs: await cpuMs(this.server.pid), kernel: await faultsAndSystemMs(this.server.pid), postgresCpuMs: postgresSeconds === null ? null : postgresSeconds * 1000, statements }
  }
}

/** the statements sent between two reads, most called first */
function statementsBetween (from: PgStatementStats, to: PgStatementStats): Array<{ statement: string } & StatementCount> {
  return Object.entries(to.statements).map(([statement, c]) => {
    const before = from.statements[statement] ?? { calls: 0, ms: 0, rows: 0 }
    return { statement, calls: c.calls - before.calls, ms: Math.round(c.ms - before.ms), rows: c.rows - before.rows }
  }).filter(s => s.calls > 0).sort((a, b) => b.calls - a.calls)
}

/** the server side's costs over a span, per 1,000 deliveries and per appended event */
function costsBetween (from: ServerCosts, to: ServerCosts, deliveries: number, appended: number): Record<string, unknown> {
  const diff = (a: number | null, b: number | null): number | null => a === null || b === null ? null : Math.round(b - a)
  const serverCpuMs = diff(from.serverCpuMs, to.serverCpuMs)
  const postgresCpuMs = diff(from.postgresCpuMs, to.postgresCpuMs)
  const per1000 = (ms: number | null): number | null => ms === null || deliveries === 0 ? null : round(ms / (deliveries / 1000), 2)
  const costs: Record<string, unknown> = {
    server_cpu_ms: serverCpuMs,
    server_cpu_ms_per_1000_deliveries: per1000(serverCpuMs),
    postgres_cpu_ms: postgresCpuMs,
    postgres_cpu_ms_per_1000_deliveries: per1000(postgresCpuMs),
    server_system_cpu_ms: diff(from.kernel?.systemMs ?? null, to.kernel?.systemMs ?? null),
    server_minor_faults_per_1000_deliveries: per1000(diff(from.kernel?.minorFaults ?? null, to.kernel?.minorFaults ?? null))
  }
  if (from.statements !== null && to.statements !== null) {
    const statements = statementsBetween(from.statements, to.statements)
    const total = statements.reduce((sum, s) => sum + s.calls, 0)
    // the forward read of the event log (eventReadSql) is the one statement reading pages after a horizon
    const reads = statements.filter(s => s.statement.startsWith('WITH horizon AS MATERIALIZED')).reduce((sum, s) => sum + s.calls, 0)
    costs.statements = total
    costs.statements_per_appended_event = appended === 0 ? null : round(total / appended, 2)
    costs.event_log_reads = reads
    costs.event_log_reads_per_appended_event = appended === 0 ? null : round(reads / appended, 3)
    costs.top_statements = statements.slice(0, TOP_STATEMENTS)
    // the server's event loop delay over the span, per 0.5 s interval: the median of the intervals' p50, the largest p99 and max
    const span = { from: from.statements.at, to: to.statements.at }
    const delays = to.statements.loopDelays.filter(d => d.at > span.from && d.at <= span.to)
    if (delays.length > 0) {
      const p50s = delays.map(d => d.p50).sort((a, b) => a - b)
      costs.loop_delay_ms = { intervals: delays.length, median_p50: p50s[Math.floor(p50s.length / 2)], max_p99: Math.max(...delays.map(d => d.p99)), max: Math.max(...delays.map(d => d.max)) }
    }
  }
  return costs
}

/** Worker threads do not inherit tsx's loader: register it inside the worker first. */
function startWorker (script: string, data: unknown): Worker {
  const href = new URL(script, import.meta.url).href
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(href)}) })`
  return new Worker(bootstrap, { eval: true, workerData: data })
}

/**
 * Reads the server's memory every MEMORY_SAMPLE_MS until stopped; the highest VmRSS
 * seen. A server that died meanwhile fails stop() with its output.
 */
function memorySampler (server: UnderLoadServer): { stop: () => Promise<number> } {
  let peak = 0
  let running = true
  let failure: unknown = null
  const loop = (async () => {
    while (running) {
      try {
        peak = Math.max(peak, (await treeMemory(server.pid)).rssMb)
      } catch (err) {
        failure = err
        return
      }
      await new Promise(resolve => setTimeout(resolve, MEMORY_SAMPLE_MS))
    }
  })()
  return {
    async stop () {
      running = false
      await loop
      server.assertRunning()
      if (failure !== null) throw failure
      return peak
    }
  }
}

/** rejects (with the server's output) once the server process is gone; never resolves */
function serverExit (server: UnderLoadServer): Promise<never> {
  return new Promise((_resolve, reject) => {
    const timer = setInterval(() => {
      try { server.assertRunning() } catch (err) { clearInterval(timer); reject(err) }
    }, 500)
    timer.unref()
  })
}

async function settledMemory (pid: number): Promise<TreeMemory> {
  await new Promise(resolve => setTimeout(resolve, SETTLE_MS))
  return await treeMemory(pid)
}

/**
 * Diagnostics (--heap-snapshots DIR): the server writes a heap snapshot into DIR on
 * SIGUSR2 (node --heapsnapshot-signal); waits until the new file stops growing. The
 * server's loop stops while it writes (seconds for a few hundred MB).
 */
async function heapSnapshot (pid: number, dir: string | null, label: string): Promise<void> {
  if (dir === null) return
  const before = new Set(await readdir(dir))
  process.kill(pid, 'SIGUSR2')
  const started = performance.now()
  let lastSize = -1
  while (performance.now() - started < 300_000) {
    await new Promise(resolve => setTimeout(resolve, 1000))
    const file = (await readdir(dir)).find(f => !before.has(f) && f.endsWith('.heapsnapshot'))
    if (file === undefined) continue
    const size = (await stat(join(dir, file))).size
    if (size > 0 && size === lastSize) {
      progress(`  heap snapshot (${label}): ${join(dir, file)}, ${round(size / 1048576, 1)} MB`)
      return
    }
    lastSize = size
  }
  progress(`  heap snapshot (${label}): none written within 300 s`)
}

/** splits n into `parts` near-equal positive shares (fewer parts when n is small) */
function shares (n: number, parts: number): number[] {
  const count = Math.max(1, Math.min(parts, n))
  return Array.from({ length: count }, (_, i) => Math.floor(n / count) + (i < n % count ? 1 : 0))
}

async function inParallel (count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await task(next++)
  }))
}

function percentileOfHistogram (histogram: number[], p: number): number | null {
  const total = histogram.reduce((a, b) => a + b, 0)
  if (total === 0) return null
  const rank = Math.ceil((p / 100) * total)
  let seen = 0
  for (let ms = 0; ms < histogram.length; ms++) {
    seen += histogram[ms]!
    if (seen >= rank) return ms
  }
  return histogram.length - 1
}

function mergedKinds (results: OperatorResult[]): Record<string, Omit<KindResult, 'latencyMs'> & { errors: number }> {
  const merged: Record<string, Omit<KindResult, 'latencyMs'> & { errors: number }> = {}
  for (const result of results) {
    for (const [kind, counts] of Object.entries(result.kinds)) {
      const into = merged[kind] ??= { ok: 0, non2xx: {}, socketErrors: 0, errors: 0 }
      into.ok += counts.ok
      into.socketErrors += counts.socketErrors
      for (const [status, n] of Object.entries(counts.non2xx)) into.non2xx[status] = (into.non2xx[status] ?? 0) + n
      into.errors = Object.values(into.non2xx).reduce((a, b) => a + b, 0) + into.socketErrors
    }
  }
  return merged
}

async function operatorPhase (server: UnderLoadServer, clients: number, seconds: number, workers: number, queues: string[], cancelable: string[]): Promise<Record<string, unknown>> {
  const before = await treeMemory(server.pid)
  progress(`under-load A: ${clients} mutual-TLS operators for ${seconds} s (90 % reads, 10 % mutations) in ${Math.min(workers, clients)} worker threads; server rss ${before.rssMb} MB`)
  const sampler = memorySampler(server)
  let first = 0
  const parts = shares(clients, workers)
  const results = await Promise.all(parts.map(async (n, w) => {
    const plan: OperatorPlan = { url: server.url, ...server.tls, clients: n, seconds, firstClient: first, queues, timeoutMs: 30_000, cancelable: cancelable.filter((_, i) => i % parts.length === w) }
    first += n
    const worker = startWorker('./lib/operator-load.ts', plan)
    return await new Promise<OperatorResult>((resolve, reject) => {
      worker.once('message', (result: OperatorResult) => { void worker.terminate(); resolve(result) })
      worker.once('error', reject)
    })
  }))
  const peakRssMb = await sampler.stop()
  const after = await treeMemory(server.pid)
  const settled = await settledMemory(server.pid)
  const kinds = mergedKinds(results)
  const perKind: Record<string, unknown> = {}
  for (const kind of Object.keys(kinds)) {
    perKind[kind] = { ...kinds[kind], latencyMs: summarize(results.flatMap(r => r.latenciesMs[kind] ?? [])) }
  }
  const all = summarize(results.flatMap(r => Object.values(r.latenciesMs).flat()))
  const elapsedMs = Math.max(...results.map(r => r.elapsedMs))
  const requests = results.reduce((sum, r) => sum + r.requests, 0)
  const non2xx = Object.values(kinds).reduce((sum, k) => sum + Object.values(k.non2xx).reduce((a, b) => a + b, 0), 0)
  const socketErrors = Object.values(kinds).reduce((sum, k) => sum + k.socketErrors, 0)
  const failures = results.flatMap(r => r.failures).slice(0, 10)
  progress(`  ${requests} requests, ${Math.round(requests / (elapsedMs / 1000))} req/s; non-2xx ${non2xx}, socket errors ${socketErrors}; p50 ${all.p50} ms, p99 ${all.p99} ms`)
  for (const [kind, k] of Object.entries(perKind) as Array<[string, { ok: number, latencyMs: { p50: number, p99: number } }]>) {
    progress(`    ${kind.padEnd(8)} ${String(k.ok).padStart(7)} ok, p50 ${k.latencyMs.p50} ms, p99 ${k.latencyMs.p99} ms`)
  }
  const handshakes = summarize(results.flatMap(r => r.newConnection.handshakeMs))
  const firstAnswers = summarize(results.flatMap(r => r.newConnection.answerMs))
  progress(`    on a new connection (${firstAnswers.samples} answered): TLS handshake p50 ${handshakes.p50} ms, p99 ${handshakes.p99} ms; answer p50 ${firstAnswers.p50} ms, p99 ${firstAnswers.p99} ms`)
  for (const failure of failures) progress(`    failure: ${failure}`)
  progress(`  server rss before ${before.rssMb} MB, peak ${peakRssMb} MB, after ${after.rssMb} MB, ${SETTLE_MS / 1000} s later ${settled.rssMb} MB`)
  return {
    clients,
    seconds,
    requests,
    per_s: Math.round(requests / (elapsedMs / 1000)),
    non2xx,
    socket_errors: socketErrors,
    errors: non2xx + socketErrors,
    latency_ms: all,
    kinds: perKind,
    new_connection: { handshake_ms: handshakes, answer_ms: firstAnswers },
    failures,
    memory_mb: { before: before.rssMb, peak: peakRssMb, after: after.rssMb, settled: settled.rssMb }
  }
}

async function newestEventId (client: HttpAdminClient): Promise<string> {
  const page = await client.call('ListEvents', { limit: 1 })
  return page.events[0]?.id ?? '0'
}

/** the event log after `afterId` up to and including the end marker, read through the gateway */
async function eventsThrough (client: HttpAdminClient, afterId: string, endQueue: string, max: number): Promise<AdminEventT[]> {
  const events: AdminEventT[] = []
  let cursor = afterId
  while (events.length < max) {
    const page = await client.call('ListEvents', { afterId: cursor, limit: LIST_EVENTS_PAGE })
    for (const event of page.events) {
      events.push(event)
      if (event.type === 'queue.paused' && (event.data as { queue?: unknown } | null)?.queue === endQueue) return events
    }
    const next = page.nextAfterId ?? page.events.at(-1)?.id
    if (next === undefined || next === cursor) throw new Error(`the event log after ${afterId} has no end marker (queue.paused of ${endQueue}) after ${events.length} events`)
    cursor = next
  }
  throw new Error(`more than ${max} events before the end marker`)
}

async function subscriberPhase (server: UnderLoadServer, client: HttpAdminClient, subscribers: number, eventCount: number, workers: number, timeoutMs: number, costReader: ServerCostReader, snapshots: string | null): Promise<Record<string, unknown>> {
  const token = randomBytes(4).toString('hex')
  const startQueue = `ul-start-${token}`
  const endQueue = `ul-end-${token}`
  // PauseQueue answers 404 for a queue that holds no task: one task makes each marker queue exist.
  for (const queue of [startQueue, endQueue]) await client.call('EnqueueTask', { queue, handler: 'under-load', payload: { marker: true } })
  const before = await treeMemory(server.pid)
  const heapBefore = await brkHeapMb(server.pid)
  const nodeBefore = await costReader.memory()
  const afterId = await newestEventId(client)
  await client.call('PauseQueue', { name: startQueue, paused: true })
  progress(`under-load B: ${subscribers} SSE subscribers in ${Math.min(workers, subscribers)} worker threads; server rss ${before.rssMb} MB`)
  const sampler = memorySampler(server)
  const connectStarted = performance.now()
  const running = shares(subscribers, workers).map((n) => {
    const plan: SubscriberPlan = { url: server.url, ...server.tls, subscribers: n, afterId, startQueue, endQueue, connectConcurrency: 50, histogramMs: HISTOGRAM_MS }
    const worker = startWorker('./lib/sse-subscribers.ts', plan)
    let markReady: () => void = () => {}
    const ready = new Promise<void>(resolve => { markReady = resolve })
    const done = new Promise<SubscriberResult>((resolve, reject) => {
      worker.on('message', (message: { type: string, result?: SubscriberResult }) => {
        if (message.type === 'ready') markReady()
        if (message.type === 'done') { void worker.terminate(); resolve(message.result!) }
      })
      worker.once('error', reject)
    })
    return { worker, ready, done }
  })
  await Promise.race([Promise.all(running.map(r => r.ready)), serverExit(server)])
  const connectMs = performance.now() - connectStarted
  const connected = await treeMemory(server.pid)
  const heapConnected = await brkHeapMb(server.pid)
  progress(`  all ${subscribers} connected and caught up in ${Math.round(connectMs)} ms; server rss ${connected.rssMb} MB`)
  const costsAtConnected = await costReader.read()
  const nodeConnected = costsAtConnected.statements?.memory ?? null
  await heapSnapshot(server.pid, snapshots, 'connected')

  // The burst: each EnqueueTask appends two events (task.enqueued and its audit record).
  const enqueues = Math.ceil(eventCount / 2)
  const burstStarted = performance.now()
  // each enqueue's time to its answer: a stall of the server shows here before it becomes a 30 s timeout
  const enqueueMs: number[] = []
  await inParallel(enqueues, BURST_CONCURRENCY, async (i) => {
    const sent = performance.now()
    await client.call('EnqueueTask', { queue: `ul-burst-${token}`, handler: 'under-load', payload: { i } })
    enqueueMs.push(performance.now() - sent)
  })
  await client.call('PauseQueue', { name: endQueue, paused: true })
  const burstMs = performance.now() - burstStarted
  await costReader.sampleBackends()
  const enqueueLatency = summarize(enqueueMs)
  progress(`  burst: ${enqueues} enqueues (${enqueues * 2} events) in ${Math.round(burstMs)} ms (each answered in p50 ${enqueueLatency.p50} ms, p99 ${enqueueLatency.p99} ms, max ${enqueueLatency.max} ms); waiting for every subscriber to reach the end marker`)
  const timer = setTimeout(() => { for (const r of running) r.worker.postMessage({ type: 'stop' }) }, timeoutMs)
  const results = await Promise.race([Promise.all(running.map(r => r.done)), serverExit(server)]).finally(() => clearTimeout(timer))
  const deliveredMs = performance.now() - burstStarted
  const costsAtDelivered = await costReader.read()
  const peakRssMb = await sampler.stop()
  const after = await treeMemory(server.pid)
  const heapAfter = await brkHeapMb(server.pid)
  const nodeAfter = costsAtDelivered.statements?.memory ?? null
  const settled = await settledMemory(server.pid)
  const heapSettled = await brkHeapMb(server.pid)
  const nodeSettled = await costReader.memory()
  await heapSnapshot(server.pid, snapshots, 'settled')

  // What every subscriber must have seen: the log from the start marker to the end marker.
  const log = await eventsThrough(client, afterId, endQueue, eventCount * 4 + 10_000)
  const startAt = log.findIndex(e => e.type === 'queue.paused' && (e.data as { queue?: unknown } | null)?.queue === startQueue)
  // The log keeps the newest maxEvents (10,000 by default): a full-size burst pushes the
  // start marker out of it before this read. Then the subscribers' ids must end with
  // what the log still holds (each worker's subscribers agree among themselves on the rest).
  const trimmed = startAt === -1
  const expected = log.slice(trimmed ? 0 : startAt).map(e => e.id)
  if (trimmed) progress(`  the log no longer holds the start marker (retention): checking the last ${expected.length} events against it`)
  const failures = results.flatMap(r => r.failures)
  let complete = 0
  for (const [i, result] of results.entries()) {
    const compared = trimmed ? result.ids.slice(-expected.length) : result.ids
    const same = compared.length === expected.length && compared.every((id, j) => id === expected[j])
    if (same) complete += result.complete
    else failures.push(`worker ${i}: its subscribers saw ${result.ids.length} ids, the log holds ${expected.length} (first difference at ${compared.findIndex((id, j) => id !== expected[j])})`)
  }
  const histogram = results.reduce((sum, r) => sum.map((v, i) => v + (r.latencyHistogram[i] ?? 0)), new Array<number>(HISTOGRAM_MS + 1).fill(0))
  const received = results.reduce((sum, r) => sum + r.received, 0)
  const latency = { p50: percentileOfHistogram(histogram, 50), p95: percentileOfHistogram(histogram, 95), p99: percentileOfHistogram(histogram, 99), max: percentileOfHistogram(histogram, 100) }
  const lost = subscribers - complete
  const seenCount = Math.max(0, ...results.map(r => r.ids.length)) - 1
  progress(`  ${complete}/${subscribers} subscribers received all ${trimmed ? seenCount : expected.length - 1} events after the start marker in order, none twice (${received} deliveries) in ${Math.round(deliveredMs)} ms after the burst began`)
  progress(`  delivery latency (append → received): p50 ${latency.p50} ms, p95 ${latency.p95} ms, p99 ${latency.p99} ms, max ${latency.max} ms (1 ms buckets)`)
  for (const failure of failures.slice(0, 10)) progress(`    failure: ${failure}`)
  progress(`  server rss before ${before.rssMb} MB, connected ${connected.rssMb} MB, peak ${peakRssMb} MB, after ${after.rssMb} MB, ${SETTLE_MS / 1000} s later ${settled.rssMb} MB`)
  const brkHeap = { before: heapBefore, connected: heapConnected, after: heapAfter, settled: heapSettled }
  progress(`    of which malloc's main arena ([heap]): before ${heapBefore} MB, connected ${heapConnected} MB, after ${heapAfter} MB, settled ${heapSettled} MB`)
  const nodeMemory = nodeSettled === null ? null : { before: nodeBefore, connected: nodeConnected, after: nodeAfter, settled: nodeSettled }
  if (nodeMemory !== null) {
    for (const [point, m] of Object.entries(nodeMemory)) if (m !== null) progress(`    ${point.padEnd(9)} V8 heap ${m.heapUsed} MB used of ${m.heapTotal}, external ${m.external} MB (array buffers ${m.arrayBuffers}), rss ${m.rss} MB`)
  }
  // the log holds every appended event from the start marker on (unless trimmed): the markers are not appends of the burst
  const appended = enqueues * 2 + 1
  const costs = costsBetween(costsAtConnected, costsAtDelivered, received, appended)
  const threads = results.map(r => ({ cpu_ms: r.threadCpuMs, event_loop_utilization: r.eventLoopUtilization }))
  const threadCpu = threads.every(t => t.cpu_ms !== null) ? threads.reduce((sum, t) => sum + (t.cpu_ms ?? 0), 0) : null
  costs.subscriber_threads = threads
  costs.subscriber_threads_cpu_ms_per_1000_deliveries = threadCpu === null || received === 0 ? null : round(threadCpu / (received / 1000), 2)
  progress(`  burst and delivery: server CPU ${costs.server_cpu_ms} ms (${costs.server_cpu_ms_per_1000_deliveries} per 1,000 deliveries; system ${String(costs.server_system_cpu_ms)} ms, minor page faults ${String(costs.server_minor_faults_per_1000_deliveries)} per 1,000), Postgres backends ${costs.postgres_cpu_ms ?? '-'} ms (${costs.postgres_cpu_ms_per_1000_deliveries ?? '-'}); subscriber threads ${threads.map(t => `${t.cpu_ms} ms CPU, utilization ${t.event_loop_utilization}`).join('; ')} (${costs.subscriber_threads_cpu_ms_per_1000_deliveries} ms per 1,000 deliveries)`)
  if (costs.statements !== undefined) {
    progress(`  statements ${costs.statements as number} (${costs.statements_per_appended_event as number} per appended event), event log reads ${costs.event_log_reads as number} (${costs.event_log_reads_per_appended_event as number} per appended event); server event loop delay ${JSON.stringify(costs.loop_delay_ms ?? null)}; most called:`)
    for (const st of costs.top_statements as Array<{ statement: string, calls: number, ms: number, rows: number }>) progress(`    ${String(st.calls).padStart(7)} calls ${String(st.ms).padStart(8)} ms ${String(st.rows).padStart(8)} rows  ${st.statement.slice(0, 110)}`)
  }
  return {
    subscribers,
    events: trimmed ? seenCount : expected.length - 1,
    log_trimmed: trimmed,
    enqueues,
    complete,
    incomplete: lost,
    deliveries: received,
    connect_ms: round(connectMs, 1),
    burst_ms: round(burstMs, 1),
    delivered_ms: round(deliveredMs, 1),
    delivery_latency_ms: latency,
    enqueue_latency_ms: enqueueLatency,
    failures: failures.slice(0, 10),
    memory_mb: { before: before.rssMb, connected: connected.rssMb, peak: peakRssMb, after: after.rssMb, settled: settled.rssMb },
    brk_heap_mb: brkHeap,
    ...(nodeMemory === null ? {} : { node_memory_mb: nodeMemory }),
    burst_costs: costs
  }
}

export async function run (args: string[]): Promise<BenchResult> {
  const flags = parseFlags('under-load', args, {
    backend: { type: 'string' },
    seconds: { type: 'string' },
    clients: { type: 'string' },
    subscribers: { type: 'string' },
    events: { type: 'string' },
    fill: { type: 'string' },
    workers: { type: 'string' },
    timeout: { type: 'string' },
    /** diagnostics: the server's event loop delay, and its statements to Postgres (none on other backends; bench/lib/pg-statement-counts.ts) */
    'statement-counts': { type: 'boolean', default: false },
    /** phase B alone (to measure the subscribers without waiting for the operators) */
    'skip-operators': { type: 'boolean', default: false },
    /** phase B this many times on the same server: whether the memory a burst leaves grows with each burst or stays */
    rounds: { type: 'string' },
    /** diagnostics: a directory for heap snapshots of the server, taken once the subscribers are connected and after the burst settled */
    'heap-snapshots': { type: 'string' },
    /** the server process's environment, NAME=VALUE, repeatable (e.g. glibc's MALLOC_ARENA_MAX=2): read by the process at its start */
    'server-env': { type: 'string', multiple: true },
    /** a node option for the server process, repeatable (e.g. --server-node-arg=--max-semi-space-size=8) */
    'server-node-arg': { type: 'string', multiple: true }
  })
  const smoke = flags.smoke === true
  const backend = (flags.backend ?? 'pglite') as UnderLoadBackend
  if (!BACKENDS.includes(backend)) throw new Error(`--backend: expected one of ${BACKENDS.join(', ')}, got "${flags.backend}"`)
  const int = (name: keyof typeof flags, full: number, small: number): number => flags[name] !== undefined ? positiveInteger(name, flags[name] as string) : smoke ? small : full
  const seconds = int('seconds', 60, 2)
  const clients = int('clients', 200, 10)
  const subscribers = int('subscribers', 1000, 20)
  const eventCount = int('events', 10_000, 200)
  const fill = int('fill', 2000, 50)
  const workers = int('workers', 2, 2)
  const timeoutMs = int('timeout', 600_000, 120_000)
  const rounds = int('rounds', 1, 1)
  const queues = Array.from({ length: 10 }, (_, i) => `ul-q${i}`)

  const dir = await mkdtemp(join(tmpdir(), 'sy-bench-ul-'))
  let server: UnderLoadServer | null = null
  let client: HttpAdminClient | null = null
  try {
    progress(`under-load: starting switchyard start on ${backend}`)
    const statsFile = flags['statement-counts'] === true ? join(dir, 'pg-statements.json') : null
    const snapshots = flags['heap-snapshots'] ?? null
    const diagnostics: ServerDiagnostics = statsFile === null
      ? { nodeArgs: [], env: {} }
      : { nodeArgs: [`--import=${new URL('./lib/pg-statement-counts.ts', import.meta.url).href}`], env: { [PG_STATS_FILE_ENV]: statsFile } }
    if (snapshots !== null) diagnostics.nodeArgs.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshots}`)
    const serverEnv = envAssignments('server-env', flags['server-env'] ?? [])
    const serverNodeArgs = flags['server-node-arg'] ?? []
    Object.assign(diagnostics.env, serverEnv)
    diagnostics.nodeArgs.push(...serverNodeArgs)
    server = await startUnderLoadServer(backend, dir, diagnostics)
    client = createHttpAdminClient({ url: server.url, ...server.tls, timeoutMs: 30_000 })
    const idle = await treeMemory(server.pid)
    const c = client
    const filled: string[] = []
    await inParallel(fill, 20, async (i) => { filled.push((await c.call('EnqueueTask', { queue: queues[i % queues.length]!, handler: 'under-load', payload: { fill: i } })).id) })
    progress(`under-load: server pid ${server.pid} at ${server.url}, rss ${idle.rssMb} MB idle; ${fill} tasks in ${queues.length} queues`)
    const results: Record<string, unknown> = { smoke, backend, node: process.version, server_env: serverEnv, server_node_args: serverNodeArgs, memory_idle_mb: idle.rssMb }
    if (flags['skip-operators'] !== true) results.operators = await operatorPhase(server, clients, seconds, workers, queues, filled)
    results.subscribers = await subscriberPhase(server, client, subscribers, eventCount, workers, timeoutMs, new ServerCostReader(server, statsFile), snapshots)
    if (rounds > 1) {
      // the later rounds in brief: the memory each burst leaves, and that every round still delivers all
      const later: Array<Record<string, unknown>> = []
      for (let round = 2; round <= rounds; round++) {
        progress(`under-load B, round ${round} of ${rounds}`)
        const b = await subscriberPhase(server, client, subscribers, eventCount, workers, timeoutMs, new ServerCostReader(server, statsFile), null)
        const costs = b.burst_costs as Record<string, unknown>
        later.push({ round, complete: b.complete, incomplete: b.incomplete, memory_mb: b.memory_mb, brk_heap_mb: b.brk_heap_mb, server_cpu_ms_per_1000_deliveries: costs.server_cpu_ms_per_1000_deliveries, server_system_cpu_ms: costs.server_system_cpu_ms, server_minor_faults_per_1000_deliveries: costs.server_minor_faults_per_1000_deliveries })
      }
      results.subscriber_rounds = later
    }
    results.memory_end_mb = (await treeMemory(server.pid)).rssMb
    const a = results.operators as { errors: number, latency_ms: { p99: number } } | undefined
    const b = results.subscribers as { incomplete: number, delivery_latency_ms: { p99: number | null } }
    progress(`under-load: summary — operators: ${a === undefined ? 'skipped' : `${a.errors} errors, p99 ${a.latency_ms.p99} ms`}; subscribers: ${b.incomplete} missed events or failed, delivery p99 ${b.delivery_latency_ms.p99 ?? '?'} ms`)
    return { results, ratios: {} }
  } finally {
    client?.close()
    // a server that crashed already told why; its failed stop must not hide that
    if (server !== null) await server.stop().catch((err: unknown) => { progress(`under-load: stopping the server: ${(err as Error).message.split('\n')[0]}`) })
    await rm(dir, { recursive: true, force: true })
  }
}
