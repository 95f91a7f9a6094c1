// Schedules, health, workers, overview, metrics, audit and the event log through a
// real gateway (see admin-commands.test.ts).
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startDeployment } from './deployment.ts'

// one deployment for the whole file; every CLI call is its own process, which takes a while
t.setTimeout(900_000)
const d = await startDeployment(t)
/** `switchyard <args> --json`: its one JSON line */
async function json<T = Record<string, unknown>> (args: string[], options: { stdin?: string } = {}): Promise<T> {
  return await d.json<T>(args, options)
}

t.test('schedules: factories, create, pause, resume, run, events, pause-all, delete', async t => {
  const { factories } = await json<{ factories: Array<{ name: string }> }>(['schedules', 'factories'])
  t.ok(factories.some(f => f.name === 'ok'))
  t.match(await json(['schedules', 'create', 'ok', '--spec', '0 0 1 1 *', '--durable', '--timezone', 'Europe/Berlin', '--overlap', 'allow']),
    { created: true, schedule: { name: 'ok', durable: true, timezone: 'Europe/Berlin', overlap: 'allow' } })
  t.match(await json(['schedules', 'pause', 'ok']), { schedule: { paused: true } })
  t.match(await json(['schedules', 'resume', 'ok']), { schedule: { paused: false } })
  const run = await json<{ taskId: string }>(['schedules', 'run', 'ok'])
  t.ok(run.taskId)
  const { events } = await json<{ events: Array<{ type: string }> }>(['schedules', 'events', '--name', 'ok'])
  t.ok(events.some(e => e.type === 'run_now'))
  t.match(await json(['schedules']), { schedules: [{ name: 'ok' }] })

  const unconfirmed = await d.cli(['schedules', 'pause-all'])
  t.equal(unconfirmed.code, 2)
  t.match(await json(['schedules', 'pause-all', '--dry-run']), { dryRun: true, changed: ['ok'] })
  t.match(await json(['schedules', 'pause-all', '--yes']), { dryRun: false, paused: true, changed: ['ok'] })
  t.match(await json(['schedules', 'resume-all', '--yes']), { paused: false, changed: ['ok'] })
  const missingSpec = await d.cli(['schedules', 'create', 'ok'])
  t.equal(missingSpec.code, 2)
  t.match(missingSpec.stderr, /--spec: required/)
  t.match(await json(['schedules', 'delete', 'ok']), { name: 'ok', deleted: true })
})

t.test('health, workers, overview, metrics', async t => {
  t.match(await json(['health']), { status: 'ok', backend: /postgres/ })
  const { workers } = await json<{ workers: Array<{ handlers: string[] }> }>(['workers'])
  t.ok(workers.some(w => w.handlers.includes('boom')), 'the live worker with its handlers')
  t.match(await json(['overview']), { totals: { ready: Number } })
  const text = await d.cli(['metrics'])
  t.equal(text.code, 0, text.stderr)
  t.match(text.stdout, /^switchyard_tasks_enqueued_total\{/m, 'Prometheus text')
  t.type(await json(['metrics']), 'object', 'the JSON snapshot')
})

t.test('audit list and export', async t => {
  const { events } = await json<{ events: Array<{ action: string, target: string }> }>(['audit', 'list', '--action', 'schedule.upsert', '--since', '1h'])
  t.match(events, [{ action: 'schedule.upsert', target: 'ok' }])
  const stdout = await d.cli(['audit', 'export', '--format', 'jsonl', '--limit', '5'])
  t.equal(stdout.code, 0, stdout.stderr)
  t.equal(stdout.stdout.trim().split('\n').length, 5, 'five JSONL lines on stdout')
  const written = await json<{ count: number, path: string, contentType: string }>(['audit', 'export', '--format', 'csv', '--output', 'audit.csv'])
  t.ok(written.count > 5)
  t.equal(written.path, join(d.dir, 'audit.csv'))
  t.match(await readFile(written.path, 'utf8'), /^id,time,action,target,actor/)
  const since = await d.cli(['audit', 'list', '--since', 'yesterday'])
  t.equal(since.code, 2)
})

t.test('events: a replay from the oldest retained event stops once caught up', async t => {
  const first = await d.cli(['events', '--json', '--limit', '3'])
  t.equal(first.code, 0, first.stderr)
  const lines = first.stdout.trim().split('\n').map(line => JSON.parse(line) as { id: string, type: string, time: string })
  t.equal(lines.length, 3)
  const all = await d.cli(['events', '--json'])
  t.equal(all.code, 0, all.stderr)
  const replayed = all.stdout.trim().split('\n').map(line => JSON.parse(line) as { id: string })
  t.same(replayed.slice(0, 3).map(e => e.id), lines.map(e => e.id), 'the same oldest events')
  t.ok(replayed.some(e => (e as { type?: string }).type === 'task.enqueued'))
  const badId = await d.cli(['events', '--after', 'not-an-id', '--follow'])
  t.equal(badId.code, 1, 'a refused resume id is not retried')
  t.match(badId.stderr, /VALIDATION_FAILED/)
})

