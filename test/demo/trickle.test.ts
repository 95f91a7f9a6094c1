// The demo of the embedded default enqueues the trickle the README describes: per
// batch two noop and one sleep on default; every 5th batch a critical noop; every
// 10th a fail task that is retried once and lands in the DLQ. Checked as a schedule,
// and end to end on the embedded database (in memory) with a fast interval.
import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSwitchyard } from '../../core/index.ts'
import { demoBatch } from '../../core/demo/trickle.ts'

t.test('the batches follow the documented schedule', async (t) => {
  const batches = Array.from({ length: 20 }, (_, n) => demoBatch(n, () => 0.5))
  for (const [n, batch] of batches.entries()) {
    const on = (handler: string, queue: string): number => batch.filter(task => task.handler === handler && task.queue === queue).length
    t.equal(on('noop', 'default'), 2, `batch ${n}: two noop`)
    t.equal(on('sleep', 'default'), 1, `batch ${n}: one sleep`)
    t.equal(on('noop', 'critical'), (n + 1) % 5 === 0 ? 1 : 0, `batch ${n}: critical noop every 5th`)
    t.equal(on('fail', 'default'), (n + 1) % 10 === 0 ? 1 : 0, `batch ${n}: fail every 10th`)
    t.ok(batch.every(task => (task.payload as { demo?: unknown }).demo === true), 'every payload says demo: true')
  }
  const sleeps = [0, 0.999].map(r => (demoBatch(0, () => r).find(task => task.handler === 'sleep')?.payload as { ms: number }).ms)
  t.same(sleeps, [200, 1998], 'sleeps of 0.2–2 s')
  t.equal(batches[9]?.find(task => task.handler === 'fail')?.maxAttempts, 2, 'fail is retried once')
})

t.test('on the embedded default the trickle runs: critical tasks succeed, a fail task retries into the DLQ', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-demo-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'demo.yaml'), [
    'plugins:',
    '  - name: backend-postgres',
    '    options: { embedded: {} }',
    'demo: { enabled: true, interval: 50ms }',
    'worker: { retry: { baseDelay: 10ms, maxDelay: 20ms } }',
    'log: { level: warn }',
    ''
  ].join('\n'))
  const sy = await createSwitchyard({ configFile: join(dir, 'demo.yaml') })
  t.teardown(() => sy.close())
  t.same(sy.handlers.names().sort(), ['fail', 'noop', 'sleep', 'switchyard.job'], 'the demo handlers and the job runner')
  await sy.start()
  const call = { actor: 'CN=test', requestId: 'demo-test' }
  const deadline = Date.now() + 60_000
  let dead: Array<{ handler: string, attempts: number, maxAttempts: number }> = []
  while (Date.now() < deadline) {
    dead = (await sy.admin.ListDLQ({}, call)).entries as typeof dead
    if (dead.length > 0) break
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  t.equal(dead[0]?.handler, 'fail', 'a fail task reached the DLQ')
  t.equal(dead[0]?.attempts, 2, 'after its retry')
  const critical = await sy.admin.ListTasks({ queue: 'critical', state: 'succeeded' }, call)
  t.ok(critical.tasks.length >= 1, 'critical noop tasks ran')
  const sleeps = await sy.admin.ListTasks({ handler: 'sleep' }, call)
  t.ok(sleeps.tasks.length >= 1, 'sleep tasks were enqueued')
})
