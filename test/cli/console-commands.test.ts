// The console's reads from the command line, against a real `switchyard start` on
// PostgreSQL: `session`, `events list` and `metrics history`. The history here is the
// running process's own: its worker and enqueue path count, it flushes into the
// shared minutes and leads the sampling, so the counts arrive without any help.
import t from 'tap'
import { startDeployment } from './deployment.ts'
import { waitFor as pollUntil } from '../../core/backend/conformance/support.ts'

t.setTimeout(600_000)
const d = await startDeployment(t)

interface Point { time: string, counts: Record<string, number>, depth?: Record<string, number> }
interface History { window: string, stepSeconds: number, queue?: string, points: Point[], queues: string[] }

function total (points: Point[], field: string): number {
  return points.reduce((sum, point) => sum + (point.counts[field] ?? 0), 0)
}

t.test('session: who the deployment takes the CLI for', async t => {
  const session = await d.json<Record<string, unknown>>(['session'])
  t.match(session, { role: 'admin', readOnly: false, approvalRequired: false, canMutate: true, backend: 'postgres' })
  t.ok((session.capabilities as string[]).includes('eventsNewestFirst'), 'the Postgres event log reads newest first')
  const text = await d.cli(['whoami'])
  t.equal(text.code, 0, text.stderr)
  t.match(text.stdout, /^role: +admin$/m)
})

t.test('tasks run, then events list and metrics history show them', async t => {
  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.push((await d.admin.call('EnqueueTask', { handler: 'ok', queue: 'histq', payload: { i } })).id)
  await pollUntil(async () => {
    const states = await Promise.all(ids.map(async id => (await d.admin.call('GetTask', { id })).task.state))
    return states.every(state => state === 'succeeded')
  }, { what: 'the tasks to succeed', timeoutMs: 30_000, intervalMs: 200 })

  const page = await d.json<{ events: Array<{ type: string, data: { id?: string } }>, scanned: number }>(['events', 'list', '--target', 'histq', '--type', 'task.'])
  for (const id of ids) {
    t.same(page.events.filter(e => e.data.id === id).map(e => e.type), ['task.succeeded', 'task.started', 'task.enqueued'], `task ${id}: its timeline, newest first`)
  }
  const text = await d.cli(['events', 'list', '--type', 'task.enqueued', '--limit', '2'])
  t.equal(text.code, 0, text.stderr)
  t.match(text.stdout, /2 events \(\d+ examined\); older: --before \S+; newer: --after \S+/)

  // the process flushes its counts every 10 s and samples depth every 20 s as the leader
  const history = await pollUntil(async () => {
    const answer = await d.admin.call('GetMetricsHistory', { window: '1h', queue: 'histq' }) as History
    return total(answer.points, 'enqueued') >= 3 && total(answer.points, 'succeeded') >= 3 && answer.points.some(p => p.depth !== undefined) ? answer : null
  }, { what: 'the counts and a depth sample in the history', timeoutMs: 60_000, intervalMs: 1_000 })
  t.equal(total(history.points, 'enqueued'), 3, 'three enqueued, counted once')
  t.equal(total(history.points, 'succeeded'), 3, 'three succeeded')
  const cli = await d.json<History>(['metrics', 'history', '--queue', 'histq'])
  t.equal(total(cli.points, 'enqueued'), 3, 'the CLI reads the same series')
  t.ok(cli.queues.includes('histq'))
  const hourly = await d.cli(['metrics', 'history', '--window', '7d'])
  t.equal(hourly.code, 0, hourly.stderr)
  t.match(hourly.stdout, /7d of all queues, hourly/)
  const bad = await d.cli(['metrics', 'history', '--window', '2h'])
  t.equal(bad.code, 2, 'an unknown window is a usage error')
})
