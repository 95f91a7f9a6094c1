// The quick start, end to end: `switchyard start` on the embedded default in an
// empty directory processes tasks, serves the admin gateway over mutual TLS (curl as
// the README shows it; the CLI through the gateway), refuses a second process on the
// same data dir in one line, stops cleanly on SIGINT, and its data survives a restart.
// Its listeners take ports the OS picks (never the defaults, which a developer's own
// `switchyard start` may hold); the CLI commands are pointed at them through the
// same environment variable an operator would use.
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { EPHEMERAL_LISTENERS, gatewayAddress, runCli, startCli } from './support.ts'

const exec = promisify(execFile)

t.test('start on the embedded default: works, locks its data dir, stops cleanly, keeps data', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-start-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))

  // Enqueued before start through the same data dir: proves the CLI opens it when free.
  const enqueued = await runCli(['enqueue', 'noop', '--payload', '{"from":"test"}', '--key', 'quickstart-1', '--json'], dir)
  t.equal(enqueued.code, 0, enqueued.stderr)
  const { id, created } = JSON.parse(enqueued.stdout.trim()) as { id: string, created: boolean }
  t.ok(created)

  const started = Date.now()
  const proc = startCli(['start'], dir, EPHEMERAL_LISTENERS)
  t.teardown(() => { if (proc.child.exitCode === null) proc.child.kill('SIGKILL') })
  await proc.waitFor('Press Ctrl-C to stop.', 60_000)
  t.comment(`started in ${Date.now() - started} ms`)
  t.match(proc.stdout(), /backend: +pglite \(embedded Postgres, data in .*\.switchyard/)
  t.match(proc.stdout(), /demo: +on/)
  // the CLI reaches the gateway at the address the config names (here through its env override)
  const cliEnv = { WORKER_ADMIN_HTTP_ADDR: gatewayAddress(proc.stdout()) }

  // The curl line the start banner prints works; without the client certificate the handshake fails.
  const curlLine = /try: +(curl .*)$/m.exec(proc.stdout())?.[1]
  t.ok(curlLine, 'prints a ready-to-paste curl command')
  const curlArgs = (curlLine ?? '').split(' ').slice(1)
  const overview = JSON.parse((await exec('curl', ['-s', '--fail', ...curlArgs])).stdout) as { totals: Record<string, number> }
  t.type(overview.totals.ready, 'number', 'curl with the client certificate reads the overview')
  const withoutCert = curlArgs.filter((a, i) => !['--cert', '--key'].includes(a) && !['--cert', '--key'].includes(curlArgs[i - 1] ?? ''))
  await t.rejects(exec('curl', ['-s', '--fail', ...withoutCert]), 'without the client certificate the request fails')

  // Metrics of the running process, as Prometheus text and as JSON.
  const base = /https:\/\/[^/]+/.exec(curlLine ?? '')?.[0] ?? ''
  const certArgs = curlArgs.slice(0, -1)
  const prometheus = (await exec('curl', ['-s', '--fail', ...certArgs, `${base}/admin/v1/metrics/prometheus`])).stdout
  t.match(prometheus, /^switchyard_tasks_finished_total\{/m, 'Prometheus text counts finished tasks')
  const metricsJson = JSON.parse((await exec('curl', ['-s', '--fail', ...certArgs, `${base}/admin/v1/metrics`])).stdout) as object
  t.type(metricsJson, 'object', 'JSON snapshot')

  // A fresh start can create a schedule for a demo handler at once; the CLI lists it.
  const schedule = JSON.parse((await exec('curl', ['-s', '--fail', ...certArgs, '-H', 'content-type: application/json',
    '-d', '{"name":"noop","spec":"*/5 * * * * *","durable":true}', `${base}/admin/v1/schedules`])).stdout) as { created: boolean }
  t.equal(schedule.created, true, 'schedule created through the gateway')
  const schedules = await runCli(['schedules'], dir, cliEnv)
  t.match(schedules.stdout, /^noop +\*\/5 \* \* \* \* \* +UTC +yes +no/m, schedules.stderr)

  // CLI commands go through the gateway while start holds the embedded database.
  const queues = await runCli(['queues'], dir, cliEnv)
  t.equal(queues.code, 0, queues.stderr)
  t.match(queues.stdout, /^default +\d+/m)
  const paused = await runCli(['pause', 'default'], dir, cliEnv)
  t.match(paused.stdout, 'queue default paused', paused.stderr)
  const resumed = await runCli(['resume', 'default'], dir, cliEnv)
  t.match(resumed.stdout, 'queue default running', resumed.stderr)

  // Opening the same embedded data dir from a second process is refused in one line.
  const second = await runCli(['tasks', '--local'], dir, cliEnv)
  t.equal(second.code, 1)
  t.equal(second.stderr.trim().split('\n').length, 1, 'one line')
  t.match(second.stderr, /PGLITE_DATADIR_LOCKED/)

  // The task enqueued before start runs (read through the gateway: the periodic status
  // line is for terminals only, and this stdout is a pipe).
  const deadline = Date.now() + 30_000
  let state = ''
  while (state !== 'succeeded' && Date.now() < deadline) {
    state = (JSON.parse((await exec('curl', ['-s', '--fail', ...certArgs, `${base}/admin/v1/tasks/${id}`])).stdout) as { task: { state: string } }).task.state
    if (state !== 'succeeded') await new Promise(resolve => setTimeout(resolve, 200))
  }
  t.equal(state, 'succeeded', 'the task enqueued before start ran')
  t.notMatch(proc.stdout(), /processed \d+, failed/, 'no status line on a pipe')
  t.match(proc.stderr(), /^\{"level":30,.*"msg":"admin queue\.pause default by [^"]+: ok"/m, 'JSON log lines on a pipe; one info line per mutation')
  t.notMatch(proc.stderr(), /"msg":"admin ListQueues/, 'reads are logged at debug, not info')
  t.notMatch(proc.stderr(), /incoming request|request completed/, 'no per-request info lines')
  proc.child.kill('SIGINT')
  t.equal(await proc.exited, 0)
  t.match(proc.stdout(), 'switchyard stopped cleanly')

  // Data survives the restart: the task enqueued before start succeeded, and the key still dedupes.
  const tasks = await runCli(['tasks', '--state', 'succeeded', '--limit', '1000'], dir, cliEnv)
  t.equal(tasks.code, 0, tasks.stderr)
  t.match(tasks.stdout, new RegExp(`^${id} +succeeded +default +noop`, 'm'))
  const again = await runCli(['enqueue', 'noop', '--key', 'quickstart-1', '--json'], dir, cliEnv)
  t.equal(again.code, 0, again.stderr)
  const deduped = JSON.parse(again.stdout.trim())
  t.match(deduped, { id, created: false, queue: 'default' })
  t.same(deduped.warnings ?? [], [], 'an enqueue answered by an existing task warns of nothing')
})
