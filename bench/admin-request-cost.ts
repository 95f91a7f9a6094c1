// What one admin overview costs the service's process, in measures that do not move
// with the machine's load: bytes allocated and CPU per request. Three ways of answering,
// in interleaved rounds in one process: the admin service called directly
// (`service`), the overview over the HTTPS gateway (`gateway`, mutual TLS, the client in
// a process of its own over one keep-alive connection), and a bare Fastify HTTPS route
// with the same certificates answering the same bytes from a constant (`bare`: what
// Node's HTTP and TLS cost by themselves). The overview is computed afresh for every
// request (readReuseMs 0). `--sites` adds the allocating functions of the gateway's
// overview (sampling heap profiler). Latencies are given but are load, not cost.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Backend } from '@switchyard/core'
import { startBareRoute, type BareRoute } from './lib/bare-route.ts'
import { createFreshReadAdminService } from './lib/admin-service.ts'
import { createGateway, startGateway } from '../core/transport/index.ts'
import { ensureDevCertificates } from '../core/transport/certs.ts'
import { allocationPerCall, allocationSites, survivorBytes, type AllocationSite } from './lib/allocation.ts'
import { parseFlags, positiveInteger } from './lib/args.ts'
import { fillByEnqueue } from './lib/fill-enqueue.ts'
import { HttpsTimerProcess } from './lib/https-timer-process.ts'
import { loadBackendFactory } from './lib/load.ts'
import { assertPostgresReachable, dropSchema, freshSchema, POSTGRES_URL } from './lib/postgres.ts'
import { assertRedisReachable, deleteKeysContaining, freshToken, REDIS_URL } from './lib/redis.ts'
import { progress, round } from './lib/report.ts'
import { summarize, type LatencySummary } from './lib/stats.ts'
import type { BenchResult } from './lib/types.ts'

const BACKENDS = ['redis', 'postgres'] as const
type BackendName = typeof BACKENDS[number]
const SYSTEMS = ['service', 'gateway', 'bare'] as const
type System = typeof SYSTEMS[number]
/** calls per allocation window: short enough that most windows see no collection */
const WINDOW_CALLS = 10
/** windows at least, so that some are free of collections even in a short (smoke) run, while the young generation is still small */
const MIN_WINDOWS = 30

interface Opened { backend: Backend, destroy: () => Promise<void> }

async function open (name: BackendName, queues: string[], tasks: number): Promise<Opened> {
  if (name === 'postgres') {
    await assertPostgresReachable()
    const create = await loadBackendFactory<Record<string, unknown>>('@switchyard/backend-postgres', 'createPostgresBackend')
    const schema = freshSchema('sy_bench_cost')
    const backend = create({ connectionString: POSTGRES_URL, schema })
    const destroy = async (): Promise<void> => { try { await backend.close() } finally { await dropSchema(schema) } }
    try {
      await backend.init()
      await fillByEnqueue(backend, queues, tasks, () => {})
    } catch (err) { await destroy().catch(() => {}); throw err }
    return { backend, destroy }
  }
  await assertRedisReachable()
  const token = freshToken()
  const create = await loadBackendFactory<Record<string, unknown>>('@switchyard/backend-redis', 'createRedisBackend')
  const backend = create({ url: REDIS_URL, prefix: `sy:${token}:` })
  const destroy = async (): Promise<void> => { try { await backend.close() } finally { await deleteKeysContaining(token) } }
  try {
    await backend.init()
    await fillByEnqueue(backend, queues, tasks, () => {})
  } catch (err) { await destroy().catch(() => {}); throw err }
  return { backend, destroy }
}

interface Round { bytes: number, cpuUs: number, systemUs: number, latencies: number[] }

interface SystemResult {
  /** median over the rounds of the bytes allocated per request (heap growth in windows without a collection) */
  alloc_bytes_per_request: number
  rounds_alloc_bytes: number[]
  /** median over the rounds of this process's CPU per request (user + system) */
  cpu_us_per_request: number
  rounds_cpu_us: number[]
  /** of that, in the kernel (socket reads and writes; on loopback the receiving side's work too) */
  system_cpu_us_per_request: number
  /** bytes per request that lived through a scavenge (copied, then promoted): what lengthens scavenges and brings full collections */
  survivor_bytes_per_request: number
  latency_ms: LatencySummary
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}

export async function run (args: string[]): Promise<BenchResult> {
  const flags = parseFlags('admin-request-cost', args, {
    backend: { type: 'string', default: 'redis' },
    tasks: { type: 'string' },
    requests: { type: 'string' },
    rounds: { type: 'string' },
    sites: { type: 'boolean', default: false },
    // a subset (e.g. to profile one of them alone); the ratios need all three
    systems: { type: 'string', default: SYSTEMS.join(',') }
  })
  const smoke = flags.smoke === true
  const name = flags.backend as string
  if (!(BACKENDS as readonly string[]).includes(name)) throw new Error(`--backend: "${name}" is not one of ${BACKENDS.join(', ')}`)
  const tasks = flags.tasks !== undefined ? positiveInteger('tasks', flags.tasks) : smoke ? 200 : 2000
  const requests = flags.requests !== undefined ? positiveInteger('requests', flags.requests) : smoke ? 100 : 2000
  const rounds = flags.rounds !== undefined ? positiveInteger('rounds', flags.rounds) : smoke ? 1 : 3
  const chosen = (flags.systems as string).split(',').map(name => name.trim()).filter(name => name !== '')
  for (const system of chosen) if (!(SYSTEMS as readonly string[]).includes(system)) throw new Error(`--systems: "${system}" is not one of ${SYSTEMS.join(', ')}`)
  const systems = SYSTEMS.filter(system => chosen.includes(system))
  if (systems.length === 0) throw new Error('--systems: name at least one')
  if (requests < WINDOW_CALLS * 5) throw new Error(`--requests: at least ${WINDOW_CALLS * 5} (allocation is read over windows of ${WINDOW_CALLS})`)

  const queues = Array.from({ length: 10 }, (_, i) => `cost-${i}`)
  const dir = await mkdtemp(join(tmpdir(), 'sy-bench-cost-'))
  const opened = await open(name as BackendName, queues, tasks)
  const { service, events } = createFreshReadAdminService(opened.backend, opened.backend.name, queues)
  const { paths } = await ensureDevCertificates(join(dir, 'certs'))
  const tls = { cert: await readFile(paths.server), key: await readFile(paths.serverKey), ca: await readFile(paths.ca) }
  const clientTls = { ca: await readFile(paths.ca, 'utf8'), cert: await readFile(paths.client, 'utf8'), key: await readFile(paths.clientKey, 'utf8') }
  const gateway = createGateway({ admin: service, tls, bodyLimitBytes: 1024 * 1024 })
  let bare: BareRoute | null = null
  const clients: HttpsTimerProcess[] = []
  try {
    const call = { actor: 'bench', requestId: 'bench' }
    const body = JSON.stringify(await service.GetOverview({}, call))
    bare = await startBareRoute(tls, body)
    const gatewayPort = Number((await startGateway(gateway, '127.0.0.1:0')).split(':').at(-1))
    const barePort = bare.port
    const gatewayClient = new HttpsTimerProcess({ port: gatewayPort, ...clientTls })
    const bareClient = new HttpsTimerProcess({ port: barePort, ...clientTls })
    clients.push(gatewayClient, bareClient)

    /** `count` requests of one system; their latencies, ms */
    const requestsOf: Record<System, (count: number) => Promise<number[]>> = {
      service: async (count) => {
        const samples: number[] = []
        for (let i = 0; i < count; i++) {
          const before = performance.now()
          await service.GetOverview({}, call)
          samples.push(performance.now() - before)
        }
        return samples
      },
      gateway: async (count) => (await gatewayClient.time('/admin/v1/overview', count)).samplesMs,
      bare: async (count) => (await bareClient.time('/bare', count)).samplesMs
    }
    const oneRound = async (system: System): Promise<Round> => {
      const latencies: number[] = []
      const cpuBefore = process.cpuUsage()
      for (let done = 0; done < requests; done += WINDOW_CALLS) latencies.push(...await requestsOf[system](WINDOW_CALLS))
      const cpu = process.cpuUsage(cpuBefore)
      const allocation = await allocationPerCall(async (calls) => { await requestsOf[system](calls) }, WINDOW_CALLS, Math.max(MIN_WINDOWS, Math.floor(requests / WINDOW_CALLS)))
      return { bytes: allocation.bytes_per_call, cpuUs: (cpu.user + cpu.system) / latencies.length, systemUs: cpu.system / latencies.length, latencies }
    }

    for (const system of systems) await requestsOf[system](Math.min(500, requests)) // warm-up: JIT, plans, TLS session
    const perSystem = new Map<System, Round[]>(systems.map(system => [system, []]))
    for (let r = 0; r < rounds; r++) {
      // rotate the order so no system always runs first
      const order = systems.map((_, i) => systems[(i + r) % systems.length]!)
      for (const system of order) perSystem.get(system)!.push(await oneRound(system))
      progress(`admin-request-cost: ${name}: round ${r + 1}: ${systems.map(s => { const last = perSystem.get(s)!.at(-1)!; return `${s} ${last.bytes} B, ${round(last.cpuUs, 1)} µs (${round(last.systemUs, 1)} system)` }).join('; ')} per request`)
    }
    const results: Record<string, unknown> = { smoke, backend: name, systems, tasks, queues: queues.length, requests, rounds, body_bytes: Buffer.byteLength(body), window_calls: WINDOW_CALLS }
    // after the rounds: the profiler this needs would slow them
    const survivors = new Map<System, Awaited<ReturnType<typeof survivorBytes>>>()
    for (const system of systems) survivors.set(system, await survivorBytes(async () => { await requestsOf[system](requests) }, requests, 15))
    for (const system of systems) {
      const runs = perSystem.get(system)!
      const summary: SystemResult = {
        alloc_bytes_per_request: median(runs.map(run => run.bytes)),
        rounds_alloc_bytes: runs.map(run => run.bytes),
        cpu_us_per_request: round(median(runs.map(run => run.cpuUs)), 1),
        rounds_cpu_us: runs.map(run => round(run.cpuUs, 1)),
        system_cpu_us_per_request: round(median(runs.map(run => run.systemUs)), 1),
        survivor_bytes_per_request: survivors.get(system)!.bytes_per_call,
        latency_ms: summarize(runs.flatMap(run => run.latencies))
      }
      results[system] = summary
    }
    if (flags.sites === true) {
      const sites: Record<string, AllocationSite[]> = {}
      for (const system of systems) sites[system] = await allocationSites(async () => { await requestsOf[system](requests) }, requests, 30)
      results.sites = sites
      results.survivor_sites = Object.fromEntries(systems.map(system => [system, survivors.get(system)!.sites]))
    }
    const g = results.gateway as SystemResult | undefined
    const s = results.service as SystemResult | undefined
    const b = results.bare as SystemResult | undefined
    if (g === undefined || s === undefined || b === undefined) return { results, ratios: {} }
    return {
      results,
      ratios: {
        gateway_minus_service_alloc_bytes: g.alloc_bytes_per_request - s.alloc_bytes_per_request,
        gateway_minus_service_minus_bare_alloc_bytes: g.alloc_bytes_per_request - s.alloc_bytes_per_request - b.alloc_bytes_per_request,
        gateway_vs_service_cpu: round(g.cpu_us_per_request / s.cpu_us_per_request),
        gateway_minus_service_minus_bare_cpu_us: round(g.cpu_us_per_request - s.cpu_us_per_request - b.cpu_us_per_request, 1)
      }
    }
  } finally {
    for (const client of clients) await client.close()
    await bare?.close()
    await gateway.close()
    await service.close()
    await events.close()
    await opened.destroy()
    await rm(dir, { recursive: true, force: true })
  }
}
