import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { enqueueMany, openTestBackend, POSTGRES_URL, waitFor, type BackendKind } from './support.ts'
import { TEST_REDIS_URL } from '../../plugins/backend-redis/testing.ts'

// Flow limits across three real worker processes (test/fixtures/flow-worker-process.ts):
// a handler rate of 5 per second holds within 10 % over 5 s, and a concurrency limit of 3
// is never exceeded, counted by the handler itself in Redis.

const FIXTURE = fileURLToPath(new URL('../fixtures/flow-worker-process.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

interface Proc { child: ReturnType<typeof spawn>, messages: Array<Record<string, unknown>>, exited: Promise<unknown> }

function spawnFlowWorker (config: Record<string, unknown>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, SY_FLOW_WORKER: JSON.stringify({ connectionString: POSTGRES_URL, redisUrl: TEST_REDIS_URL, ...config }) },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const messages: Array<Record<string, unknown>> = []
  createInterface({ input: child.stdout! }).on('line', line => {
    try { messages.push(JSON.parse(line) as Record<string, unknown>) } catch { /* not a protocol line */ }
  })
  return { child, messages, exited: new Promise(resolve => child.once('exit', resolve)) }
}

async function stop (proc: Proc): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return
  proc.child.kill('SIGTERM')
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 15_000)
  await proc.exited
  clearTimeout(timer)
}

for (const kind of ['postgres', 'redis'] as BackendKind[]) {
  t.test(`${kind}: flow limits across three worker processes`, async t => {
    const tb = await openTestBackend(kind)
    const procs: Proc[] = []
    const counterKey = `sy:test:flow-counter:${randomBytes(5).toString('hex')}`
    t.teardown(async () => {
      await Promise.all(procs.map(stop))
      await tb.destroy()
    })
    const queues = ['flow-rated', 'flow-slow']
    await tb.backend.setFlowLimit({ kind: 'handler', name: 'rated' }, { concurrency: null, rate: { limit: 5, windowMs: 1000 } })
    await tb.backend.setFlowLimit({ kind: 'handler', name: 'slow' }, { concurrency: 3, rate: null })
    for (const name of ['p1', 'p2', 'p3']) {
      procs.push(spawnFlowWorker({ kind, namespace: tb.schema, counterKey, queues, name, concurrency: 10 }))
    }
    await waitFor(() => procs.every(p => p.messages.some(m => m.event === 'ready')), 'three worker processes ready', 60_000)

    await t.test('a handler rate of 5 per second holds across the processes within 10 %', async t => {
      await enqueueMany(tb.backend, 60, i => ({ queue: 'flow-rated', handler: 'rated', payload: { i } }))
      const starts = (): number[] => procs.flatMap(p => p.messages.filter(m => m.event === 'rated').map(m => m.at as number)).sort((a, b) => a - b)
      await waitFor(() => starts().length >= 40, '40 rated tasks to start', 30_000)
      const all = starts()
      // five whole one-second windows after the first (partial) one
      const from = Math.ceil((all[0] as number) / 1000) * 1000
      const within = all.filter(at => at >= from && at < from + 5000).length
      const perProcess = procs.map(p => p.messages.filter(m => m.event === 'rated').length)
      t.comment(`starts in 5 s: ${within} (expected 25); per process ${perProcess.join('/')}`)
      t.ok(within >= 22.5 && within <= 27.5, `5/s within 10 % over 5 s: ${within} starts`)
      t.ok(perProcess.filter(n => n > 0).length >= 2, 'the starts are spread over the processes')
    })

    await t.test('a concurrency limit of 3 is never exceeded, counted in the handler', async t => {
      await enqueueMany(tb.backend, 90, i => ({ queue: 'flow-slow', handler: 'slow', payload: { i } }))
      const seen = (): number[] => procs.flatMap(p => p.messages.filter(m => m.event === 'slow').map(m => m.running as number))
      await waitFor(() => seen().length >= 90, '90 slow tasks to run', 60_000)
      const running = seen()
      const max = Math.max(...running)
      t.comment(`max running at once: ${max}; per process ${procs.map(p => p.messages.filter(m => m.event === 'slow').length).join('/')}`)
      t.ok(max <= 3, `never more than 3 at once (max ${max})`)
      t.equal(max, 3, 'the limit is used, not just respected')
      const settled = await waitFor(async () => {
        const limit = (await tb.backend.listFlowLimits()).find(l => l.name === 'slow')
        return limit !== undefined && limit.running === 0 ? limit : null
      }, 'the last slow tasks to finish', 15_000)
      t.match(settled, { running: 0, throttled: 0, saturated: false }, 'the running count comes back to 0 exactly')
    })
  })
}
