// `task bulk`, `queue drain` and `task reschedule` through a real gateway (see
// admin-commands.test.ts): bulk commands need a selection and a confirmation, a dry
// run reports what the confirmed call then changes.
import t from 'tap'
import { startDeployment } from './deployment.ts'

t.setTimeout(600_000)
const d = await startDeployment(t)

t.test('task bulk, task reschedule and queue drain', async t => {
  // no worker runs handler "idle": its tasks stay where the commands put them
  const enqueue = async (queue: string, extra: Record<string, unknown> = {}): Promise<string> =>
    (await d.admin.call('EnqueueTask', { handler: 'idle', queue, ...extra })).id
  const ready = [await enqueue('bulkq'), await enqueue('bulkq'), await enqueue('bulkq')]
  const scheduled = await enqueue('bulkq', { delayMs: 3_600_000 })
  const stateOf = async (id: string): Promise<{ state: string, queue: string, priority: number }> => (await d.admin.call('GetTask', { id })).task

  const none = await d.cli(['task', 'bulk', 'cancel'])
  t.equal(none.code, 2, 'no selection: usage error')
  t.match(none.stderr, /select the tasks: --ids a,b, a filter/)
  const unconfirmed = await d.cli(['task', 'bulk', 'cancel', '--queue', 'bulkq'])
  t.equal(unconfirmed.code, 2, 'no terminal and no --yes: usage error')
  t.match(unconfirmed.stderr, /task bulk acts in bulk and there is no terminal to ask on: pass --yes/)
  const badAction = await d.cli(['task', 'bulk', 'explode', '--queue', 'bulkq', '--yes'])
  t.equal(badAction.code, 2)
  t.match(badAction.stderr, /is not one of cancel, retry, delete, run_now, reschedule, move/)
  const noTarget = await d.cli(['task', 'bulk', 'move', '--queue', 'bulkq', '--yes'])
  t.equal(noTarget.code, 2)
  t.match(noTarget.stderr, /move needs --target-queue/)

  const dry = await d.json<{ dryRun: boolean, count: number, changed: string[] }>(['task', 'bulk', 'cancel', '--queue', 'bulkq', '--dry-run'])
  t.match(dry, { dryRun: true, count: 4 })
  t.same([...dry.changed].sort(), [...ready, scheduled].sort())
  t.equal((await stateOf(ready[0] as string)).state, 'ready', 'the dry run changed nothing')

  const raised = await d.json<{ count: number }>(['tasks', 'bulk', 'reschedule', '--ids', ready[0] as string, '--priority', '5', '--yes'])
  t.equal(raised.count, 1)
  t.equal((await stateOf(ready[0] as string)).priority, 5)
  const moved = await d.json<{ changed: string[] }>(['task', 'bulk', 'move', '--queue', 'bulkq', '--state', 'scheduled', '--target-queue', 'laterq', '--yes'])
  t.same(moved.changed, [scheduled])
  t.match(await stateOf(scheduled), { queue: 'laterq', state: 'scheduled' })

  const one = await d.json<{ task: { id: string, priority: number } }>(['task', 'reschedule', ready[1] as string, '--priority', '9'])
  t.match(one.task, { id: ready[1], priority: 9 })
  const text = await d.cli(['task', 'reschedule', ready[1] as string, '--max-attempts', '4'])
  t.equal(text.code, 0, text.stderr)
  t.match(text.stdout, /rescheduled: ready, priority 9, .*4 attempts at most/)
  const nothing = await d.cli(['task', 'reschedule', ready[1] as string])
  t.equal(nothing.code, 2)

  const drainDry = await d.json<{ count: number, changed: string[] }>(['queue', 'drain', 'bulkq', '--dry-run'])
  t.equal(drainDry.count, 3)
  const drained = await d.cli(['queues', 'drain', 'bulkq', '--yes'])
  t.equal(drained.code, 0, drained.stderr)
  t.match(drained.stdout, /^deleted 3 tasks: /)
  t.equal((await d.admin.call('ListTasks', { queue: 'bulkq' })).tasks.length, 0, 'the queue is empty')
  const missing = await d.cli(['queue', 'drain', 'no-such-queue', '--dry-run'])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /QUEUE_NOT_FOUND/)
})
