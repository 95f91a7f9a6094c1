// Every admin command through a real gateway: `switchyard start` on PostgreSQL, the
// CLI as a separate process reaching it over mutual TLS. Checks the --json answers
// (one JSON line, the RPC's answer), the exit codes (0 ok, 1 refused, 2 usage),
// payloads from a file and stdin, durations, and that a bulk replay never runs
// without a selection and a confirmation. The last test fails when an admin command
// of the table was never run here with --json.
import t from 'tap'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { COMMANDS } from '../../core/commands/table.ts'
import { resolveCommand } from '../../core/commands/dispatch.ts'
import { startDeployment } from './deployment.ts'

// one deployment for the whole file; every CLI call is its own process, which takes a while
t.setTimeout(900_000)
const d = await startDeployment(t)
const ranWithJson = new Set<string>()
/** `switchyard <args> --json`, recording which command of the table ran */
async function json<T = Record<string, unknown>> (args: string[], options: { stdin?: string } = {}): Promise<T> {
  const resolved = resolveCommand(args)
  if (resolved.kind === 'command') ranWithJson.add(resolved.spec.name)
  return await d.json<T>(args, options)
}

async function waitFor<T> (what: string, check: () => Promise<T | null | false>, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== null && value !== false) return value
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

interface TaskAnswer { task: { id: string, state: string, runAt: string, createdAt: string, payloadJson: string, queue: string }, timeline: unknown[] }

t.test('enqueue: payload from the argument, a file and stdin; durations like the config', async t => {
  await writeFile(join(d.dir, 'payload.json'), '{"from":"file"}')
  const fromFile = await json<{ id: string, created: boolean, queue: string }>(['enqueue', 'ok', '--queue', 'cliq', '--payload', '@payload.json', '--delay', '1h30m'])
  t.match(fromFile, { created: true, queue: 'cliq' })
  const file = await json<TaskAnswer>(['task', 'get', fromFile.id])
  t.same(JSON.parse(file.task.payloadJson), { from: 'file' })
  t.equal(file.task.state, 'scheduled')
  t.ok(Math.abs(Date.parse(file.task.runAt) - Date.parse(file.task.createdAt) - 5_400_000) < 10_000, '--delay 1h30m')

  const fromStdin = await json<{ id: string }>(['enqueue', 'ok', '--queue', 'cliq', '--payload', '-', '--delay', '2m', '--key', 'cli-stdin'], { stdin: '{"from":"stdin"}\n' })
  const stdin = await json<TaskAnswer>(['task', 'get', fromStdin.id])
  t.same(JSON.parse(stdin.task.payloadJson), { from: 'stdin' })
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

t.test('dlq: list, get, stats, replay needs a selection and a confirmation, delete', async t => {
  await writeFile(join(d.dir, 'fixed.json'), '{"fixed":true}')
  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.push((await d.admin.call('EnqueueTask', { handler: 'boom', queue: 'deadq', maxAttempts: 1 })).id)
  const deadIn = async (queue: string): Promise<number> => (await d.admin.call('GetDLQStats', {})).byQueue[queue] ?? 0
  await waitFor('three dead tasks', async () => await deadIn('deadq') === 3)
  const list = await json<{ entries: Array<{ id: string }>, total?: number }>(['dlq', 'list', '--queue', 'deadq'])
  t.same(list.entries.map(e => e.id).sort(), [...ids].sort())
  t.match(await json(['dlq', 'get', ids[0] as string]), { entry: { id: ids[0], state: 'dead', lastError: /boom on purpose/ } })

  const none = await d.cli(['dlq', 'replay'])
  t.equal(none.code, 2, 'no selection: usage error')
  t.match(none.stderr, /dlq replay: select what to replay: --ids a,b, a filter \(--queue q, --handler h\), or --all/)
  const unconfirmed = await d.cli(['dlq', 'replay', '--queue', 'deadq'])
  t.equal(unconfirmed.code, 2, 'no terminal and no --yes: usage error')
  t.match(unconfirmed.stderr, /dlq replay acts in bulk and there is no terminal to ask on: pass --yes/)
  const both = await d.cli(['dlq', 'replay', '--all', '--queue', 'deadq', '--yes'])
  t.equal(both.code, 2)
  const payloadWithFilter = await d.cli(['dlq', 'replay', '--queue', 'deadq', '--payload', '{}', '--yes'])
  t.equal(payloadWithFilter.code, 2)
  t.equal(await deadIn('deadq'), 3, 'none of them replayed anything')

  t.match(await json(['dlq', 'replay', '--queue', 'deadq', '--dry-run']), { dryRun: true, count: 3 })
  t.match(await json(['dlq', 'replay', '--ids', ids[0] as string, '--payload', '@fixed.json', '--yes']), { dryRun: false, count: 1, replayed: [ids[0]] })
  await waitFor('the replayed task to die again', async () => (await d.admin.call('GetTask', { id: ids[0] as string })).task.state === 'dead')
  t.same(JSON.parse((await d.admin.call('GetTask', { id: ids[0] as string })).task.payloadJson), { fixed: true }, 'replayed with the new payload')

  const replayed = await json<{ count: number }>(['dlq', 'replay', '--queue', 'deadq', '--handler', 'boom', '--limit', '2', '--yes'])
  t.equal(replayed.count, 2, '--limit bounds a filtered replay')
  await waitFor('all dead again', async () => await deadIn('deadq') === 3)

  t.match(await json(['dlq', 'delete', ids[2] as string]), { id: ids[2], deleted: true })
  const text = await d.cli(['dlq', 'delete', ids[2] as string])
  t.match(text.stdout, 'was already gone')
})

t.test('dlq replay on a terminal shows the dry-run count and asks', { skip: !await hasScript() ? 'script (util-linux) is not installed' : false }, async t => {
  const ids: string[] = []
  for (let i = 0; i < 2; i++) ids.push((await d.admin.call('EnqueueTask', { handler: 'boom', queue: 'ttyq', maxAttempts: 1 })).id)
  await waitFor('two dead tasks', async () => (await d.admin.call('GetDLQStats', {})).byQueue.ttyq === 2)

  const declined = await onTerminal(['dlq', 'replay', '--queue', 'ttyq'], 'n\n')
  t.equal(declined.code, 1, 'declining exits 1')
  t.match(declined.output, /dlq replay: replay 2 dead tasks of queue ttyq \(.*\)\. Go ahead\? \[y\/N\]/)
  t.match(declined.output, 'not confirmed; nothing changed')
  t.equal((await d.admin.call('GetTask', { id: ids[0] as string })).task.replays, 0, 'nothing replayed')

  const accepted = await onTerminal(['dlq', 'replay', '--queue', 'ttyq'], 'y\n')
  t.equal(accepted.code, 0, accepted.output)
  t.match(accepted.output, /replayed 2 dead tasks:/)
  for (const id of ids) t.equal((await d.admin.call('GetTask', { id })).task.replays, 1, `${id} replayed once`)

  const noSelection = await onTerminal(['dlq', 'replay'], '')
  t.equal(noSelection.code, 2, 'on a terminal too, no selection is a usage error')
})

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
  const { events } = await json<{ events: Array<{ action: string, target: string }> }>(['audit', 'list', '--action', 'queue.weight.update', '--since', '1h'])
  t.match(events, [{ action: 'queue.weight.update', target: 'cliq' }])
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
  ranWithJson.add('events')
  const badId = await d.cli(['events', '--after', 'not-an-id', '--follow'])
  t.equal(badId.code, 1, 'a refused resume id is not retried')
  t.match(badId.stderr, /VALIDATION_FAILED/)
})

t.test('every admin command ran with --json above', async t => {
  const admin = COMMANDS.filter(c => c.admin).map(c => c.name)
  t.same(admin.filter(name => !ranWithJson.has(name)), [], 'commands never run with --json here')
})

async function hasScript (): Promise<boolean> {
  const { execFile } = await import('node:child_process')
  return await new Promise(resolve => execFile('script', ['--version'], err => resolve(err === null)))
}

/** runs the CLI inside a pseudo-terminal (util-linux `script`), typing `input` */
async function onTerminal (args: string[], input: string): Promise<{ code: number | null, output: string }> {
  const { spawn } = await import('node:child_process')
  const { BIN } = await import('./support.ts')
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`
  const command = [process.execPath, BIN, ...args, '--config', 'sy.yaml'].map(quote).join(' ')
  return await new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: d.dir, env: { ...process.env, ...d.env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`switchyard ${args.join(' ')} on a terminal did not finish:\n${output}`)) }, 60_000)
    // type the answer once the question is on the screen
    const answer = setInterval(() => {
      if (!/Go ahead\?/.test(output) && input !== '') return
      clearInterval(answer)
      child.stdin.end(input)
    }, 50)
    child.on('exit', code => {
      clearTimeout(timer)
      clearInterval(answer)
      // eslint-disable-next-line no-control-regex
      resolve({ code, output: output.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '') })
    })
  })
}
