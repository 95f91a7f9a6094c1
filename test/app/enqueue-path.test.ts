// One enqueue path: the application (sy.enqueue), the admin contract (EnqueueTask, which
// `switchyard enqueue` calls) and schedule fires all normalize the same way, emit
// task.enqueued and count in tasks_enqueued_total; what no backend can store is refused
// before anything is enqueued or counted.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { isSwitchyardError, type Switchyard } from '../../core/index.ts'
import { MAX_JSON_DEPTH } from '../../core/backend/storable.ts'
import { parsePrometheusText, sampleValue } from '../../plugins/metrics/test-support.ts'
import { openPostgresApp } from './support.ts'

async function enqueuedTotal (sy: Switchyard, handler: string): Promise<number | undefined> {
  const [exporter] = sy.app.switchyard.metricsExporters()
  const samples = parsePrometheusText(await exporter?.render() ?? '')
  return sampleValue(samples, 'switchyard_tasks_enqueued_total', { queue: 'default', handler })
}

const admin = { actor: 'CN=test', requestId: randomUUID() }

t.test('application, admin and schedule enqueues are all counted, once per created task', async t => {
  const sy = await openPostgresApp(t, { name: 'enqueue-path', plugins: ['metrics'] })
  sy.scheduleFactory('nightly.report', () => ({ handler: 'report.build', payload: { kind: 'nightly' } }), { durable: true })
  await sy.start()

  await sy.enqueue({ handler: 'app.send', payload: { to: 'a@b' }, idempotencyKey: 'once' })
  await sy.enqueue({ handler: 'app.send', payload: { to: 'a@b' }, idempotencyKey: 'once' })
  t.equal(await enqueuedTotal(sy, 'app.send'), 1, 'sy.enqueue: a duplicate key is not counted again')

  const viaAdmin = await sy.admin.EnqueueTask({ handler: 'admin.send', payload: { to: 'c@d' } }, admin)
  t.equal(viaAdmin.created, true)
  t.equal(await enqueuedTotal(sy, 'admin.send'), 1, 'EnqueueTask (and so the CLI) is counted')

  await sy.admin.CreateSchedule({ name: 'nightly.report', spec: '0 3 * * *', durable: true }, admin)
  const run = await sy.admin.RunSchedule({ name: 'nightly.report' }, admin)
  t.ok(run.taskId, 'the schedule enqueued a task')
  t.equal(await enqueuedTotal(sy, 'report.build'), 1, 'a schedule fire is counted')
  t.match(await sy.backend.getTask(run.taskId as string), { handler: 'report.build', payload: { kind: 'nightly' } })
})

t.test('input no backend can store is refused naming the field, and nothing is enqueued or counted', async t => {
  const sy = await openPostgresApp(t, { name: 'enqueue-path', plugins: ['metrics'] })
  await sy.start()
  let deep: unknown = 1
  for (let i = 0; i < MAX_JSON_DEPTH + 1; i++) deep = [deep]
  const cases: Array<[string, () => Promise<unknown>, string, RegExp]> = [
    ['NUL in a payload string', () => sy.enqueue({ handler: 'refused', payload: { text: 'a\u0000b' } }), 'task.payload.text', /NUL/],
    ['1e999 in a payload', () => sy.enqueue({ handler: 'refused', payload: JSON.parse('{"n":1e999}') }), 'task.payload.n', /finite number/],
    ['NaN in a batch', () => sy.enqueue([{ handler: 'refused' }, { handler: 'refused', payload: [Number.NaN] }]), 'tasks[1].payload[0]', /finite number/],
    ['a payload too deep', () => sy.enqueue({ handler: 'refused', payload: deep }), 'task.payload', new RegExp(`^task.payload: nested deeper than ${MAX_JSON_DEPTH} levels`)],
    ['NUL in an idempotency key', () => sy.enqueue({ handler: 'refused', idempotencyKey: 'k\u0000' }), 'task.idempotencyKey', /NUL/],
    ['runAt past the delayMs bound', () => sy.enqueue({ handler: 'refused', runAt: Date.now() + 366 * 24 * 3600_000 }), 'task.runAt', /365 days/],
    ['admin: 1e999 in the payload', () => sy.admin.EnqueueTask({ handler: 'refused', payload: JSON.parse('{"n":1e999}') }, admin), 'payload.n', /finite number/],
    ['admin: too deep', () => sy.admin.EnqueueTask({ handler: 'refused', payload: deep }, admin), 'payload', /nested deeper/],
    ['admin: runAt past the bound', () => sy.admin.EnqueueTask({ handler: 'refused', runAt: new Date(Date.now() + 400 * 24 * 3600_000).toISOString() }, admin), 'runAt', /365 days/],
    ['admin: NUL in a query', () => sy.admin.ListTasks({ query: 'a\u0000' }, admin), 'query', /NUL/]
  ]
  for (const [what, call, field, message] of cases) {
    const err = await call().then(() => null, (e: unknown) => e)
    t.ok(isSwitchyardError(err) && err.code === 'VALIDATION_FAILED' && err.statusCode === 400, `${what}: 400 VALIDATION_FAILED`, { found: err })
    t.equal((err as { details?: { field?: unknown } } | null)?.details?.field, field, `${what}: names ${field}`)
    t.match((err as Error | null)?.message, message, `${what}: says why`)
  }
  const page = await sy.backend.listTasks({ handler: 'refused', limit: 10, offset: 0 })
  t.same(page.tasks, [], 'nothing was enqueued, not even the valid task of a refused batch')
  t.equal(await enqueuedTotal(sy, 'refused'), undefined, 'nothing was counted')
  const [later] = await sy.enqueue({ handler: 'accepted', runAt: Date.now() + 364 * 24 * 3600_000 })
  t.equal((await sy.backend.getTask(later!.id))?.state, 'scheduled', 'a runAt within the bound is accepted')
})
