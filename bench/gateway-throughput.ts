// Gateway throughput over mutual TLS: the admin gateway's overview and queue list
// against a bare Fastify HTTPS route (same certificates, same client verification,
// a static JSON body of the same size) in the same run, 50 keep-alive connections
// from a load generator in a worker thread. Prints requests/second, p99 and ratios.
// The load generator is usually what saturates first, and a fresh one (and the server
// code it calls) runs slower until V8 has compiled it: every measured phase follows a
// one-second warm-up against the same route, and --rounds (default 3) rotate which
// system goes first, so no side always meets cold code. The ratios are the medians'
// and, `_paired`, the median of each round's own ratio.
import { Worker } from 'node:worker_threads'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NewTask } from '@switchyard/core'
import { EventLog } from '../core/events/event-log.ts'
import { createAdminService } from '../core/admin/index.ts'
import { createGateway, startGateway } from '../core/transport/index.ts'
import { ensureDevCertificates } from '../core/transport/certs.ts'
import { startBareRoute, type BareRoute } from './lib/bare-route.ts'
import { parseFlags, positiveInteger } from './lib/args.ts'
import { dropSchema, freshSchema, POSTGRES_URL, assertPostgresReachable } from './lib/postgres.ts'
import { loadBackendFactory } from './lib/load.ts'
import { progress, ratio } from './lib/report.ts'
import type { LoadPlan, LoadResult } from './lib/https-load.ts'
import type { BenchResult } from './lib/types.ts'

function load (plan: LoadPlan): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    // Worker threads do not inherit tsx's loader: register it inside the worker first.
    const script = new URL('./lib/https-load.ts', import.meta.url).href
    const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(script)}) })`
    const worker = new Worker(bootstrap, { eval: true, workerData: plan })
    worker.once('message', (result: LoadResult) => { void worker.terminate(); resolve(result) })
    worker.once('error', reject)
  })
}

export async function run (args: string[]): Promise<BenchResult> {
  const flags = parseFlags('gateway-throughput', args, {
    seconds: { type: 'string' },
    connections: { type: 'string' },
    queues: { type: 'string' },
    rounds: { type: 'string' }
  })
  const smoke = flags.smoke === true
  const seconds = flags.seconds !== undefined ? positiveInteger('seconds', flags.seconds) : smoke ? 1 : 10
  const connections = flags.connections !== undefined ? positiveInteger('connections', flags.connections) : smoke ? 4 : 50
  const queueCount = flags.queues !== undefined ? positiveInteger('queues', flags.queues) : 10
  const rounds = flags.rounds !== undefined ? positiveInteger('rounds', flags.rounds) : smoke ? 1 : 3

  await assertPostgresReachable()
  const schema = freshSchema('sy_bench_gw')
  const dir = await mkdtemp(join(tmpdir(), 'sy-bench-gw-'))
  const createPostgresBackend = await loadBackendFactory<Record<string, unknown>>('@switchyard/backend-postgres', 'createPostgresBackend')
  const backend = createPostgresBackend({ connectionString: POSTGRES_URL, schema })
  await backend.init()
  const events = new EventLog(backend)
  const service = createAdminService({
    backend,
    events,
    options: { readOnly: false, requireApproval: false, roles: null, requestTimeoutMs: 10_000, replayLimitMax: 1000, replayIdsMax: 1000, auditExportLimitMax: 10_000, auditEventLimit: 10_000 },
    info: { version: 'bench', commit: 'bench', backendName: backend.name, startedAt: Date.now(), weightDefaults: () => 1, defaultQueue: 'default', taskDefaults: { queue: 'default', maxAttempts: 3, priority: 0, timeoutMs: 60_000 } }
  })
  const { paths } = await ensureDevCertificates(join(dir, 'certs'))
  const tls = { cert: await readFile(paths.server), key: await readFile(paths.serverKey), ca: await readFile(paths.ca) }
  const client = { ca: await readFile(paths.ca, 'utf8'), cert: await readFile(paths.client, 'utf8'), key: await readFile(paths.clientKey, 'utf8') }
  const gateway = createGateway({ admin: service, tls, bodyLimitBytes: 1024 * 1024 })
  let bare: BareRoute | null = null
  try {
    const task = (i: number): NewTask => ({ queue: `q${i % queueCount}`, handler: 'noop', payload: { i }, maxAttempts: 3, priority: 0, timeoutMs: 60_000, runAt: null, delayMs: 0, idempotencyKey: null })
    for (let i = 0; i < (smoke ? 1000 : 20_000); i += 1000) await backend.enqueue(Array.from({ length: 1000 }, (_, j) => task(i + j)))
    const gatewayAddr = await startGateway(gateway, '127.0.0.1:0')
    // The bare route answers the same bytes the gateway's overview does.
    const overviewBody = JSON.stringify(await service.GetOverview({}, { actor: 'bench', requestId: 'bench' }))
    bare = await startBareRoute(tls, overviewBody)
    const barePort = bare.port

    const results: Record<string, unknown> = { smoke, seconds, connections, queues: queueCount, rounds, bodyBytes: overviewBody.length }
    const plans: Array<[string, string, string[]]> = [
      ['bare', `https://127.0.0.1:${barePort}`, ['/bare']],
      ['gateway_overview', `https://${gatewayAddr}`, ['/admin/v1/overview']],
      ['gateway_queues', `https://${gatewayAddr}`, ['/admin/v1/queues']]
    ]
    const runs: Record<string, LoadResult[]> = Object.fromEntries(plans.map(([name]) => [name, []]))
    for (let r = 0; r < rounds; r++) {
      const order = [...plans.slice(r % plans.length), ...plans.slice(0, r % plans.length)]
      for (const [name, url, routes] of order) {
        if (!smoke) await load({ url, paths: routes, connections, seconds: 1, ...client })
        progress(`gateway-throughput: round ${r + 1}/${rounds}, ${name}, ${connections} connections, ${seconds} s`)
        const result = await load({ url, paths: routes, connections, seconds, ...client })
        progress(`  ${result.perSecond} req/s, p99 ${result.latencyMs.p99} ms, errors ${result.errors}`)
        runs[name]?.push(result)
      }
    }
    // each system's median run by requests/second; every run's rate beside it
    for (const [name] of plans) {
      const sorted = [...(runs[name] ?? [])].sort((a, b) => a.perSecond - b.perSecond)
      results[name] = { ...sorted[Math.floor(sorted.length / 2)], runs_per_second: (runs[name] ?? []).map(x => x.perSecond) }
    }
    const perSecond = (name: string): number | null => (results[name] as LoadResult | undefined)?.perSecond ?? null
    const paired = (name: string): number | null => {
      const each = (runs[name] ?? []).map((x, i) => ratio(x.perSecond, runs.bare?.[i]?.perSecond ?? null)).filter((x): x is number => x !== null).sort((a, b) => a - b)
      return each.length === 0 ? null : each[Math.floor(each.length / 2)] ?? null
    }
    return {
      results,
      ratios: {
        gateway_overview_vs_bare: ratio(perSecond('gateway_overview'), perSecond('bare')),
        gateway_queues_vs_bare: ratio(perSecond('gateway_queues'), perSecond('bare')),
        gateway_overview_vs_bare_paired: paired('gateway_overview'),
        gateway_queues_vs_bare_paired: paired('gateway_queues')
      }
    }
  } finally {
    await gateway.close()
    await bare?.close()
    await service.close()
    await events.close()
    await backend.close()
    await dropSchema(schema)
    await rm(dir, { recursive: true, force: true })
  }
}
