// Two app instances on one PostgreSQL schema, each with its worker, as two processes
// of a deployment: what both enqueue and run adds up in one history, one of them
// leads (its lock is in the coordination state), and both answer the same series.
import t, { type Test } from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { createSwitchyard, type Switchyard } from '../../core/index.ts'
import { METRICS_HISTORY_LOCK } from '../../core/metrics-history/index.ts'
import { dropSchema, testSchema, TEST_POSTGRES_URL } from '../../plugins/backend-postgres/test-support.ts'
import { waitFor } from '../../core/backend/conformance/support.ts'

t.setTimeout(180_000)

async function openApp (t: Test, dir: string, schema: string, name: string): Promise<Switchyard> {
  const file = join(dir, `${name}.yaml`)
  await writeFile(file, [
    'plugins:',
    '  - name: backend-postgres',
    `    options: { connectionString: "${TEST_POSTGRES_URL}", schema: ${schema} }`,
    'worker: { pollInterval: 100ms, retry: { baseDelay: 100ms, maxDelay: 200ms } }',
    ''
  ].join('\n'))
  const sy = await createSwitchyard({ configFile: file })
  sy.handle('ok', async () => {})
  sy.handle('boom', async () => { throw new Error('boom on purpose') })
  t.teardown(async () => { await sy.close() })
  return sy
}

const caller = (): { actor: string, requestId: string } => ({ actor: 'CN=test', requestId: randomUUID() })

interface Point { counts: Record<string, number> }
const total = (points: Point[], field: string): number => points.reduce((sum, p) => sum + (p.counts[field] ?? 0), 0)

t.test('two instances: counts add up, one leads, both read the same history', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-history-'))
  const schema = testSchema()
  t.teardown(async () => {
    await dropSchema(schema)
    await rm(dir, { recursive: true, force: true })
  })
  const a = await openApp(t, dir, schema, 'a')
  const b = await openApp(t, dir, schema, 'b')
  await a.start()
  await b.start()

  const ids = [
    ...(await a.enqueue(Array.from({ length: 10 }, (_, i) => ({ handler: 'ok', queue: 'hq', payload: { i } })))).map(r => r.id),
    ...(await b.enqueue(Array.from({ length: 6 }, (_, i) => ({ handler: 'ok', queue: 'hq', payload: { i } })))).map(r => r.id)
  ]
  const [dead] = await a.enqueue({ handler: 'boom', queue: 'hq', payload: {}, maxAttempts: 1 })
  await waitFor(async () => {
    const states = await Promise.all([...ids, dead?.id as string].map(async id => (await a.backend.getTask(id))?.state))
    return states.slice(0, -1).every(s => s === 'succeeded') && states[states.length - 1] === 'dead'
  }, { what: 'every task to finish', timeoutMs: 60_000, intervalMs: 100 })
  await b.admin.ReplayDLQByID({ ids: [dead?.id as string], targetQueue: 'hq' }, caller())

  const leaders = await waitFor(async () => {
    const held = (await a.backend.getCoordinationState()).leaders.filter(lock => lock.name === METRICS_HISTORY_LOCK)
    return held.length > 0 ? held : null
  }, { what: 'the history lock taken', timeoutMs: 30_000 })
  t.equal(leaders.length, 1, 'one instance holds the history lock')

  // b stops first (its close writes what it counted); a flushes on its own timer
  await b.close()
  const history = await waitFor(async () => {
    const answer = await a.admin.GetMetricsHistory({ window: '1h', queue: 'hq' }, caller())
    return total(answer.points, 'enqueued') >= 17 && total(answer.points, 'replayed') >= 1 && total(answer.points, 'succeeded') >= 16 ? answer : null
  }, { what: 'both instances\' counts in the history', timeoutMs: 60_000, intervalMs: 500 })
  t.equal(total(history.points, 'enqueued'), 17, 'enqueued by both, each once')
  t.ok(total(history.points, 'succeeded') >= 16, 'succeeded on both workers (the replayed task may run again: it fails into the DLQ once more)')
  t.equal(total(history.points, 'replayed'), 1, 'the replay')
  t.ok(total(history.points, 'dead') >= 1 && total(history.points, 'failed') >= 1, 'the failure and the dead-lettering')
})
