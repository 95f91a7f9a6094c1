// Admin commands through a real gateway: `switchyard start` on PostgreSQL, the CLI as
// a separate process reaching it over mutual TLS. This file: enqueue (payloads from
// the argument, a file and stdin; durations), task get/cancel/retry and the queue
// commands; --json prints the RPC's answer on one line; exit codes 0 ok, 1 refused,
// 2 usage.
import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startDeployment } from './deployment.ts'
import { waitFor as pollUntil } from '../../core/backend/conformance/support.ts'

// one deployment for the whole file; every CLI call is its own process, which takes a while
t.setTimeout(900_000)
const d = await startDeployment(t)
/** `switchyard <args> --json`: its one JSON line */
async function json<T = Record<string, unknown>> (args: string[], options: { stdin?: string } = {}): Promise<T> {
  return await d.json<T>(args, options)
}

async function waitFor<T> (what: string, check: () => Promise<T | null | false>): Promise<T> {
  return await pollUntil(check, { what, timeoutMs: 30_000, intervalMs: 200 })
}

interface TaskAnswer { task: { id: string, state: string, runAt: string, createdAt: string, payload: unknown, queue: string }, timeline: unknown[] }

t.test('enqueue: payload from the argument, a file and stdin; durations like the config', async t => {
  await writeFile(join(d.dir, 'payload.json'), '{"from":"file"}')
  const fromFile = await json<{ id: string, created: boolean, queue: string }>(['enqueue', 'ok', '--queue', 'cliq', '--payload', '@payload.json', '--delay', '1h30m'])
  t.match(fromFile, { created: true, queue: 'cliq' })
  const file = await json<TaskAnswer>(['task', 'get', fromFile.id])
  t.same(file.task.payload, { from: 'file' })
  t.equal(file.task.state, 'scheduled')
  t.ok(Math.abs(Date.parse(file.task.runAt) - Date.parse(file.task.createdAt) - 5_400_000) < 10_000, '--delay 1h30m')

  const fromStdin = await json<{ id: string }>(['enqueue', 'ok', '--queue', 'cliq', '--payload', '-', '--delay', '2m', '--key', 'cli-stdin'], { stdin: '{"from":"stdin"}\n' })
  const stdin = await json<TaskAnswer>(['task', 'get', fromStdin.id])
  t.same(stdin.task.payload, { from: 'stdin' })
  t.ok(Math.abs(Date.parse(stdin.task.runAt) - Date.parse(stdin.task.createdAt) - 120_000) < 10_000, '--delay 2m')

  const now = await json<{ id: string }>(['enqueue', 'ok', '--queue', 'cliq', '--payload', '{"from":"argument"}', '--delay', '0'])
  await waitFor('the task enqueued with --delay 0 to succeed', async () => (await d.admin.call('GetTask', { id: now.id })).task.state === 'succeeded')
  const half = await json<{ id: string }>(['enqueue', 'ok', '--queue', 'cliq', '--delay', '500ms'])
  t.ok(half.id)

  const text = await d.cli(['enqueue', 'ok', '--queue', 'cliq', '--key', 'cli-stdin'])
  t.equal(text.code, 0, text.stderr)
  t.match(text.stdout, `not enqueued: idempotency key matched existing task ${fromStdin.id}`, 'text output says what happened')

  for (const [args, message] of [
    [['--delay', '10 sekunden'], /enqueue: --delay: "10 sekunden" is not a duration/],
    [['--delay=-5'], /--delay: "-5" is not a duration/],
    [['--payload', '{oops'], /--payload: not valid JSON in the argument/],
    [['--payload', '@missing.json'], /--payload: cannot read missing\.json: no such file/],
    [['--priority', 'high'], /--priority: "high" is not an integer/],
    [['--run-at', 'tomorrow'], /--run-at: "tomorrow" is not an RFC 3339 time/]
  ] as const) {
    const bad = await d.cli(['enqueue', 'ok', ...args])
    t.equal(bad.code, 2, `${args.join(' ')} is a usage error`)
    t.match(bad.stderr, message)
    t.equal(bad.stderr.trim().split('\n').length, 1, 'one line')
  }
})

t.test('task get, cancel, retry; a refusal exits 1 with its code', async t => {
  const { id } = await json<{ id: string }>(['enqueue', 'ok', '--queue', 'cliq', '--delay', '1h'])
  t.match(await json(['task', 'cancel', id]), { id, state: 'canceled' })
  t.match(await json(['task', 'retry', id]), { id, requeued: true })
  await waitFor('the retried task to succeed', async () => (await d.admin.call('GetTask', { id })).task.state === 'succeeded')
  const text = await d.cli(['task', 'get', id])
  t.match(text.stdout, /^state: +succeeded$/m)
  t.match(text.stdout, /^timeline:$/m)

  const missing = await d.cli(['task', 'get', 'no-such-task'])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /^switchyard: TASK_NOT_FOUND: /)
  const again = await d.cli(['task', 'cancel', id])
  t.equal(again.code, 1, 'canceling a finished task is refused')
  const tasks = await json<{ tasks: Array<{ id: string }>, total?: number }>(['tasks', '--queue', 'cliq', '--state', 'succeeded', '--limit', '100'])
  t.ok(tasks.tasks.some(task => task.id === id))
})

t.test('queues: list, get, weight set and reset, pause and resume', async t => {
  const { queues } = await json<{ queues: Array<{ name: string }> }>(['queues'])
  t.ok(queues.some(q => q.name === 'cliq'))
  t.match(await json(['queue', 'get', 'cliq']), { queue: { name: 'cliq' }, unservedHandlers: [] })
  t.match(await json(['queue', 'weight', 'set', 'cliq', '5']), { queue: { name: 'cliq', weight: 5, weightOverridden: true } })
  const reset = await json<{ queue: { weight: number, weightOverridden: boolean, defaultWeight: number } }>(['queue', 'weight', 'reset', 'cliq'])
  t.equal(reset.queue.weightOverridden, false)
  t.equal(reset.queue.weight, reset.queue.defaultWeight)
  const zero = await d.cli(['queue', 'weight', 'set', 'cliq', '0'])
  t.equal(zero.code, 2)
  t.match(zero.stderr, /weight: "0" is not an integer from 1 to 1000/)

  t.match(await json(['pause', 'cliq']), { queue: { name: 'cliq', paused: true } })
  t.match(await json(['resume', 'cliq']), { queue: { name: 'cliq', paused: false } })
  t.match(await json(['pause']), { globalPaused: true })
  t.match(await json(['resume']), { globalPaused: false })
  const text = await d.cli(['queues'])
  t.match(text.stdout, /^cliq +\d+/m)
})

