import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { StoredEvent } from '../../core/backend/types.ts'
import { TEST_REDIS_URL } from '../../plugins/backend-redis/testing.ts'
import { openTestBackend, POSTGRES_URL, waitFor, type BackendKind } from './support.ts'

// A task's events are logged by two processes: the one that enqueues it appends
// `task.enqueued`, the worker process that leases it appends `task.started` and
// `task.succeeded`. Whatever the timing, the persisted log (what SSE replays) must
// show every task's events in causal order.

const FIXTURE = fileURLToPath(new URL('../fixtures/event-order-process.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const TASKS = 1_500
const QUEUE = 'event-order'

interface Child { child: ChildProcess, messages: Array<Record<string, unknown>>, exited: Promise<number | null> }

function spawnSide (config: Record<string, unknown>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, SY_EVENT_ORDER: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const messages: Array<Record<string, unknown>> = []
  createInterface({ input: child.stdout! }).on('line', line => {
    try { messages.push(JSON.parse(line) as Record<string, unknown>) } catch { /* not a protocol line */ }
  })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  return { child, messages, exited }
}

async function stop (side: Child): Promise<void> {
  if (side.child.exitCode !== null || side.child.signalCode !== null) return
  side.child.kill('SIGTERM')
  const timer = setTimeout(() => side.child.kill('SIGKILL'), 15_000)
  await side.exited
  clearTimeout(timer)
}

for (const kind of ['postgres', 'redis', 'bullmq'] as const satisfies readonly BackendKind[]) {
  t.test(`${kind}: an enqueuer process and a worker process; every task's events in causal order`, { timeout: 180_000 }, async t => {
    const tb = await openTestBackend(kind)
    const url = kind === 'postgres' ? POSTGRES_URL : TEST_REDIS_URL
    const sides: Child[] = []
    t.teardown(async () => {
      await Promise.all(sides.map(stop))
      await tb.destroy()
    })
    const base = { kind, url, namespace: tb.schema, queue: QUEUE }
    const worker = spawnSide({ ...base, role: 'work' })
    sides.push(worker)
    await waitFor(() => worker.messages.some(m => m.event === 'ready'), 'the worker process ready', 60_000)
    const enqueuer = spawnSide({ ...base, role: 'enqueue', tasks: TASKS, producers: 8 })
    sides.push(enqueuer)
    t.equal(await enqueuer.exited, 0, 'the enqueuer process enqueued everything and exited')

    // every task succeeded, and the worker's last events are in the log
    const events: StoredEvent[] = []
    let cursor: string | null = null
    let succeeded = 0
    await waitFor(async () => {
      for (;;) {
        const page = await tb.backend.readEvents({ afterId: cursor, limit: 1000 })
        events.push(...page)
        succeeded += page.filter(e => e.type === 'task.succeeded').length
        cursor = page[page.length - 1]?.id ?? cursor
        if (page.length < 1000) break
      }
      return succeeded >= TASKS
    }, `${TASKS} task.succeeded events`, 120_000)

    const order = new Map<string, string[]>()
    for (const e of events) {
      const id = (e.data as { id?: unknown } | null)?.id
      if (typeof id !== 'string' || !e.type.startsWith('task.')) continue
      order.set(id, [...(order.get(id) ?? []), e.type])
    }
    t.equal(order.size, TASKS, 'events of every task are in the log')
    const wrong = [...order].filter(([, types]) => types.join(' ') !== 'task.enqueued task.started task.succeeded')
    t.same(wrong.slice(0, 5), [], `every task reads enqueued, started, succeeded (${wrong.length} of ${TASKS} do not)`)
  })
}
