// Admin reads at scale: GetOverview over the HTTPS gateway (mutual TLS), computed
// afresh for every request, against each backend holding `--tasks` tasks in `--queues`
// queues. The HTTPS client runs in a process of its own (lib/https-timer.ts), as a
// user's does, so its TLS, parsing and garbage collection do not land on the service's
// event loop. Requests are sequential over one keep-alive connection, so a percentile
// is one overview's own cost. Beside the HTTP latency: the same call made on the admin
// service directly (what the gateway adds is the difference), the backend calls one
// overview makes, and on Redis the commands one overview sends (MONITOR, filtered to
// this run's keys), and the CPU one overview costs (this process's, and on a local
// Postgres server its backends'). Target: p99 ≤ 3 ms on every backend, one Redis round trip.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Backend } from '@switchyard/core'
import { createFreshReadAdminService } from './lib/admin-service.ts'
import { startBareRoute, type BareRoute } from './lib/bare-route.ts'
import { createGateway, startGateway } from '../core/transport/index.ts'
import { ensureDevCertificates } from '../core/transport/certs.ts'
import { onOff, parseFlags, positiveInteger } from './lib/args.ts'
import { countCalls, type CallStats } from './lib/call-counter.ts'
import { fillTasks } from './lib/fill-tasks.ts'
import { recordGcPauses, summarizePauses, type GcPause, type GcPauseSummary } from './lib/gc-pauses.ts'
import { fillByEnqueue } from './lib/fill-enqueue.ts'
import { createHttpsTimer, type HttpsTimer } from './lib/https-timer.ts'
import { HttpsTimerProcess } from './lib/https-timer-process.ts'
import { loadBackendFactory } from './lib/load.ts'
import { assertPostgresReachable, dropSchema, freshSchema, POSTGRES_URL } from './lib/postgres.ts'
import { backendCpuReadable, OwnBackendCpu } from './lib/postgres-usage.ts'
import { countRedisCommands } from './lib/redis-monitor.ts'
import { assertRedisReachable, deleteKeysContaining, freshToken, REDIS_URL } from './lib/redis.ts'
import { progress, ratio, round } from './lib/report.ts'
import { summarize, type LatencySummary } from './lib/stats.ts'
import { attributeTail, type TailAttribution } from './lib/tail-attribution.ts'
import type { BenchResult } from './lib/types.ts'

export const TARGET_P99_MS = 3
/**
 * The gateway's overviews and the bare route's requests are timed in alternating blocks
 * of this many, so both see the same machine (other processes, the backend's state):
 * on a shared two-core machine, two runs one after the other do not.
 */
const BLOCK_REQUESTS = 100
/** pglite-thread: PGlite on a thread of its own (embedded.thread: worker) beside the default, the main thread */
const BACKENDS = ['pglite', 'pglite-thread', 'postgres', 'redis', 'bullmq'] as const
type BackendName = typeof BACKENDS[number]

interface Opened {
  backend: Backend
  /** the string every Redis key of this backend contains (MONITOR filter); null for Postgres */
  redisToken: string | null
  fillMs: number
  destroy: () => Promise<void>
}

/** the client certificate, its key and the CA (PEM) the client process connects with */
interface ClientTls { ca: string, cert: string, key: string }
/** process: the HTTPS client in a process of its own (as a user's is); inline: in this one, beside the service */
type ClientPlace = 'process' | 'inline'

async function open (name: BackendName, queues: string[], tasks: number, dir: string): Promise<Opened> {
  const onProgress = (done: number): void => { if (done % 200_000 === 0 || done === tasks) progress(`admin-reads: ${name}: ${done} tasks stored`) }
  if (name === 'pglite' || name === 'pglite-thread' || name === 'postgres') {
    const create = await loadBackendFactory<Record<string, unknown>>('@switchyard/backend-postgres', 'createPostgresBackend')
    const schema = name === 'postgres' ? freshSchema('sy_bench_reads') : undefined
    const target = name === 'postgres' ? { connectionString: POSTGRES_URL, schema } : { pgliteDir: join(dir, name) }
    const filled = await fillTasks(target, tasks, onProgress, queues)
    const backend = create(name === 'postgres' ? { connectionString: POSTGRES_URL, schema } : { embedded: { dataDir: target.pgliteDir, thread: name === 'pglite-thread' ? 'worker' : 'main' } })
    await backend.init()
    return { backend, redisToken: null, fillMs: filled.ms, destroy: async () => { try { await backend.close() } finally { if (schema !== undefined) await dropSchema(schema) } } }
  }
  const token = freshToken()
  const create = name === 'redis'
    ? await loadBackendFactory<Record<string, unknown>>('@switchyard/backend-redis', 'createRedisBackend')
    : await loadBackendFactory<Record<string, unknown>>('@switchyard/backend-bullmq', 'createBullMQBackend')
  // backend-redis keys look like {prefix}name; backend-bullmq forbids ':' in its prefix
  const backend = create(name === 'redis' ? { url: REDIS_URL, prefix: `sy:${token}:` } : { url: REDIS_URL, prefix: token })
  const destroy = async (): Promise<void> => { try { await backend.close() } finally { await deleteKeysContaining(token) } }
  try {
    await backend.init()
    const filled = await fillByEnqueue(backend, queues, tasks, onProgress)
    return { backend, redisToken: token, fillMs: filled.ms, destroy }
  } catch (err) {
    await destroy().catch(() => {})
    throw err
  }
}

interface BackendResult {
  tasks: number
  queues: number
  fill_ms: number
  overview_https_ms: LatencySummary
  /**
   * the floor on this machine: a bare Fastify HTTPS route (same TLS settings, mutual TLS,
   * same client process, its own keep-alive connection) answering the first overview's
   * bytes from a constant, timed in blocks alternating with the overviews
   */
  bare_https_ms: LatencySummary
  /** the bare route's requests slower than the target, by the collections that overlapped them */
  bare_https_tail: TailAttribution
  /** CPU of this process per bare request (Node's HTTP and TLS, Fastify) */
  bare_cpu_us_per_request: number
  /**
   * each request's time inside this process as Fastify counts it (from its onRequest to
   * the response handed to the socket: routing, the gateway, the service and its backend
   * round trip, serialization, TLS encryption), beside the time the client saw
   */
  overview_server_ms: LatencySummary
  bare_server_ms: LatencySummary
  /** of the requests slower than the target at the client, those slower than it inside this process too (the rest lost their time outside: TLS records in flight, the kernel, the client, waiting for a core) */
  overview_https_slow_inside: SlowInside
  bare_https_slow_inside: SlowInside
  /** TLS connections the client process's timed overviews used (1: one kept-alive connection) */
  overview_https_connections: number
  /** garbage collections in this (the service's) process while the overviews over HTTPS ran */
  overview_https_gc: GcPauseSummary
  /** the client process's own collections meanwhile (with --client inline, the same process's) */
  overview_https_client_gc: GcPauseSummary
  /** the overviews over HTTPS slower than the target, by the collections that overlapped them */
  overview_https_tail: TailAttribution
  /** CPU of this process per overview over HTTPS: service, gateway, TLS (and the client's too with --client inline) */
  https_cpu_us_per_overview: number
  overview_service_ms: LatencySummary
  queues_https_ms: LatencySummary
  body_bytes: number
  /** backend calls per overview, by method (from a counting wrapper around the backend) */
  backend_calls_per_overview: Record<string, number>
  /** Redis commands this run's client sent per overview (MONITOR); null off Redis */
  redis_commands_per_overview: number | null
  /** CPU of this process per overview called on the service directly (on PGlite the database's too) */
  process_cpu_us_per_overview: number
  /** CPU of the Postgres server backends serving this process per overview (a local server only); null otherwise */
  server_cpu_us_per_overview: number | null
}

interface SlowInside { over: number, inside: number, outside: number }

/** `serverMs[i]` is request i's time inside the server, `clientMs[i]` the client's; null when they cannot be paired */
function slowInside (clientMs: number[], serverMs: number[], thresholdMs: number): SlowInside | null {
  if (clientMs.length !== serverMs.length) return null
  const result = { over: 0, inside: 0, outside: 0 }
  for (let i = 0; i < clientMs.length; i++) {
    if (clientMs[i]! <= thresholdMs) continue
    result.over++
    if (serverMs[i]! > thresholdMs) result.inside++
    else result.outside++
  }
  return result
}

/** the backend without readOverview: the overview makes one call per source, as on a backend that lacks it */
function withoutOverviewRead (backend: Backend): Backend {
  return new Proxy(backend, {
    get (target, prop) {
      if (prop === 'readOverview') return undefined
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? (...args: unknown[]) => value.apply(target, args) : value
    }
  })
}

async function measure (name: BackendName, opened: Opened, queues: string[], tasks: number, requests: number, monitorRequests: number, dir: string, clientTls: ClientTls, clientIn: ClientPlace, combined: boolean): Promise<BackendResult> {
  const counted = countCalls(combined ? opened.backend : withoutOverviewRead(opened.backend))
  const { service, events } = createFreshReadAdminService(counted.backend, opened.backend.name, queues)
  const { paths } = await ensureDevCertificates(join(dir, 'certs'))
  const tls = { cert: await readFile(paths.server), key: await readFile(paths.serverKey), ca: await readFile(paths.ca) }
  // each side's own time per request, kept while the timed blocks run (both through an onResponse hook; a served gateway has one too, for its log)
  let recording = false
  const overviewServerMs: number[] = []
  const bareServerMs: number[] = []
  const gateway = createGateway({ admin: service, tls, bodyLimitBytes: 1024 * 1024, onRequestTimed: (route, _status, ms) => { if (recording && route === '/admin/v1/overview') overviewServerMs.push(ms) } })
  let bare: BareRoute | null = null
  let client: HttpsTimer | null = null
  try {
    const port = Number((await startGateway(gateway, '127.0.0.1:0')).split(':').at(-1))
    client = clientIn === 'process' ? new HttpsTimerProcess({ port, ...clientTls }) : createHttpsTimer({ port, ...clientTls })
    const timeRequests = async (path: string, count: number): Promise<number[]> => (await client!.time(path, count)).samplesMs
    const call = { actor: 'bench', requestId: 'bench' }
    const first = await client.get('/admin/v1/overview')
    const overview = JSON.parse(first.body) as { totals: Record<string, number> }
    const stored = Object.values(overview.totals).reduce((sum, n) => sum + n, 0)
    if (stored !== tasks) throw new Error(`${name}: the overview counts ${stored} tasks, ${tasks} were stored (${first.body.slice(0, 300)})`)
    // the bare route answers the overview's own bytes, with the gateway's content type
    bare = await startBareRoute(tls, Buffer.from(first.body), { contentType: 'application/json; charset=utf-8', onResponseMs: ms => { if (recording) bareServerMs.push(ms) } })
    const barePort = bare.port
    await timeRequests('/admin/v1/overview', Math.min(200, requests)) // warm-up: JIT, statement plans, scripts loaded
    await client.time('/bare', Math.min(200, requests), barePort)

    const callsBefore = counted.report()
    const gc = recordGcPauses()
    // each kind's blocks together, with this process's CPU while they ran
    const blocks = (): { samplesMs: number[], startsAtMs: number[], sockets: number, clientGc: GcPause[], cpuUs: number } => ({ samplesMs: [], startsAtMs: [], sockets: 0, clientGc: [], cpuUs: 0 })
    const timed = blocks()
    const bareTimed = blocks()
    recording = true
    for (let done = 0; done < requests; done += BLOCK_REQUESTS) {
      const count = Math.min(BLOCK_REQUESTS, requests - done)
      for (const [into, path, onPort] of [[timed, '/admin/v1/overview', undefined], [bareTimed, '/bare', barePort]] as const) {
        const cpuBefore = process.cpuUsage()
        const block = await client.time(path, count, onPort)
        const cpu = process.cpuUsage(cpuBefore)
        into.cpuUs += cpu.user + cpu.system
        into.samplesMs.push(...block.samplesMs)
        into.startsAtMs.push(...block.startsAtMs)
        into.clientGc.push(...block.clientGc)
        into.sockets = Math.max(into.sockets, block.sockets)
      }
    }
    recording = false
    const servicePauses = gc.stop()
    const overviewInside = slowInside(timed.samplesMs, overviewServerMs, TARGET_P99_MS)
    const bareInside = slowInside(bareTimed.samplesMs, bareServerMs, TARGET_P99_MS)
    if (overviewInside === null || bareInside === null) throw new Error(`${name}: ${overviewServerMs.length} / ${bareServerMs.length} server timings for ${timed.samplesMs.length} / ${bareTimed.samplesMs.length} requests`)
    // this process's collections while each kind of request ran
    const during = (t: typeof timed): GcPause[] => servicePauses.filter(p => t.startsAtMs.some((at, i) => p.atMs < at + t.samplesMs[i]! && p.atMs + p.ms > at))
    const gcPauses = summarizePauses(during(timed))
    // inline, the client's pauses are the service's: count them once, as the service's
    const clientPauses = clientIn === 'inline' ? [] : timed.clientGc
    const tail = attributeTail(timed.startsAtMs, timed.samplesMs, servicePauses, clientPauses, TARGET_P99_MS)
    const bareTail = attributeTail(bareTimed.startsAtMs, bareTimed.samplesMs, servicePauses, clientIn === 'inline' ? [] : bareTimed.clientGc, TARGET_P99_MS)
    const https_ = summarize(timed.samplesMs)
    const bareHttps = summarize(bareTimed.samplesMs)
    const callsAfter = counted.report()
    const perOverview: Record<string, number> = {}
    for (const [method, stats] of Object.entries(callsAfter)) {
      const calls = stats.calls - ((callsBefore[method] as CallStats | undefined)?.calls ?? 0)
      if (calls > 0) perOverview[method] = round(calls / requests, 2)
    }
    // CPU per overview holds under load better than latency: this process's (the admin
    // service and, on PGlite, the database) and, on a local Postgres server, its backends'
    const serverCpu = name === 'postgres' && await backendCpuReadable() ? new OwnBackendCpu() : null
    const serverBefore = await serverCpu?.seconds()
    const cpuBefore = process.cpuUsage()
    const direct: number[] = []
    for (let i = 0; i < requests; i++) {
      const before = performance.now()
      await service.GetOverview({}, call)
      direct.push(performance.now() - before)
    }
    const cpuUsed = process.cpuUsage(cpuBefore)
    const serverSeconds = serverCpu === null || serverBefore === undefined ? null : await serverCpu.seconds() - serverBefore
    const queueList = summarize(await timeRequests('/admin/v1/queues', requests))
    const monitored = opened.redisToken === null
      ? null
      : await countRedisCommands(REDIS_URL, opened.redisToken, async () => { await timeRequests('/admin/v1/overview', monitorRequests) })
    if (monitored !== null && monitored.streamErrors > 0) progress(`admin-reads: ${name}: the MONITOR connection reported ${monitored.streamErrors} stream error(s); the count may miss lines`)
    const redisCommands = monitored === null ? null : monitored.commands / monitorRequests
    const result: BackendResult = {
      tasks,
      queues: queues.length,
      fill_ms: opened.fillMs,
      overview_https_ms: https_,
      bare_https_ms: bareHttps,
      bare_https_tail: bareTail,
      bare_cpu_us_per_request: round(bareTimed.cpuUs / requests, 1),
      overview_server_ms: summarize(overviewServerMs),
      bare_server_ms: summarize(bareServerMs),
      overview_https_slow_inside: overviewInside,
      bare_https_slow_inside: bareInside,
      overview_https_connections: timed.sockets,
      overview_https_gc: gcPauses,
      overview_https_client_gc: summarizePauses(clientPauses),
      overview_https_tail: tail,
      https_cpu_us_per_overview: round(timed.cpuUs / requests, 1),
      overview_service_ms: summarize(direct),
      queues_https_ms: queueList,
      body_bytes: Buffer.byteLength(first.body),
      backend_calls_per_overview: perOverview,
      redis_commands_per_overview: redisCommands === null ? null : round(redisCommands, 2),
      process_cpu_us_per_overview: round((cpuUsed.user + cpuUsed.system) / requests, 1),
      server_cpu_us_per_overview: serverSeconds === null ? null : round(serverSeconds * 1e6 / requests, 1)
    }
    progress(`admin-reads: ${name}: overview over HTTPS p50 ${https_.p50} ms, p99 ${https_.p99} ms (target ${TARGET_P99_MS}; bare route p50 ${bareHttps.p50} ms, p99 ${bareHttps.p99} ms, ${bareTail.over} over ${TARGET_P99_MS} ms of which ${bareInside.inside} slow inside the server, CPU ${result.bare_cpu_us_per_request} µs here; inside the server: overview p99 ${result.overview_server_ms.p99} ms, bare p99 ${result.bare_server_ms.p99} ms), ${overviewInside.inside} of the slow overviews slow inside the server, ${gcPauses.count} GCs here meanwhile (max ${gcPauses.max_ms} ms), ${tail.over} over ${TARGET_P99_MS} ms (service GC ${tail.service_gc}, client GC ${tail.client_gc}, both ${tail.both_gc}, neither ${tail.neither}), CPU ${result.https_cpu_us_per_overview} µs here per overview; service alone p99 ${result.overview_service_ms.p99} ms, CPU ${result.process_cpu_us_per_overview} µs here${result.server_cpu_us_per_overview === null ? '' : ` + ${result.server_cpu_us_per_overview} µs server`} per overview; queue list p99 ${queueList.p99} ms; backend calls ${JSON.stringify(perOverview)}${redisCommands === null ? '' : `; Redis commands per overview ${result.redis_commands_per_overview}`}`)
    return result
  } finally {
    await client?.close()
    await bare?.close()
    await gateway.close()
    await service.close()
    await events.close()
  }
}

export async function run (args: string[]): Promise<BenchResult> {
  const flags = parseFlags('admin-reads', args, {
    tasks: { type: 'string' },
    queues: { type: 'string' },
    requests: { type: 'string' },
    'monitor-requests': { type: 'string' },
    backends: { type: 'string' },
    // off: the overview makes one backend call per source even where readOverview exists (to compare)
    combined: { type: 'string', default: 'on' },
    // inline: the HTTPS client in the service's own process, as this benchmark once ran it (to compare)
    client: { type: 'string', default: 'process' }
  })
  const smoke = flags.smoke === true
  const tasks = flags.tasks !== undefined ? positiveInteger('tasks', flags.tasks) : smoke ? 2000 : 1_000_000
  const queueCount = flags.queues !== undefined ? positiveInteger('queues', flags.queues) : 10
  const requests = flags.requests !== undefined ? positiveInteger('requests', flags.requests) : smoke ? 50 : 2000
  const monitorRequests = flags['monitor-requests'] !== undefined ? positiveInteger('monitor-requests', flags['monitor-requests']) : smoke ? 5 : 50
  const combined = onOff('combined', flags.combined as string)
  const clientIn = flags.client as string
  if (clientIn !== 'process' && clientIn !== 'inline') throw new Error(`--client: "${clientIn}" is neither process nor inline`)
  const names = (flags.backends ?? BACKENDS.filter(b => b !== 'pglite-thread').join(',')).split(',').map(s => s.trim()).filter(s => s !== '')
  for (const name of names) {
    if (!(BACKENDS as readonly string[]).includes(name)) throw new Error(`--backends: unknown backend "${name}" (known: ${BACKENDS.join(', ')})`)
  }
  const backends = names as BackendName[]
  if (backends.includes('postgres')) await assertPostgresReachable()
  if (backends.includes('redis') || backends.includes('bullmq')) await assertRedisReachable()

  const queues = Array.from({ length: queueCount }, (_, i) => `reads-${i}`)
  const dir = await mkdtemp(join(tmpdir(), 'sy-bench-reads-'))
  const results: Record<string, unknown> = { smoke, tasks, queues: queueCount, requests, monitor_requests: monitorRequests, combined, client: clientIn, target_p99_ms: TARGET_P99_MS }
  const ratios: Record<string, number | null> = {}
  try {
    const { paths } = await ensureDevCertificates(join(dir, 'certs'))
    const clientTls = { ca: await readFile(paths.ca, 'utf8'), cert: await readFile(paths.client, 'utf8'), key: await readFile(paths.clientKey, 'utf8') }
    for (const name of backends) {
      progress(`admin-reads: ${name}: filling ${queueCount} queues with ${tasks} tasks`)
      const opened = await open(name, queues, tasks, dir)
      try {
        const result = await measure(name, opened, queues, tasks, requests, monitorRequests, dir, clientTls, clientIn, combined)
        results[name] = result
        ratios[`${name}_overview_p99_vs_target`] = ratio(result.overview_https_ms.p99, TARGET_P99_MS)
        ratios[`${name}_overview_p99_vs_bare_p99`] = ratio(result.overview_https_ms.p99, result.bare_https_ms.p99)
        ratios[`${name}_overview_p50_vs_bare_p50`] = ratio(result.overview_https_ms.p50, result.bare_https_ms.p50)
        if (result.redis_commands_per_overview !== null) ratios[`${name}_redis_commands_per_overview`] = result.redis_commands_per_overview
      } finally {
        await opened.destroy()
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  return { results, ratios }
}
