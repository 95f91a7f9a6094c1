// The quick start, end to end: `switchyard start` on the embedded default in an
// empty directory processes tasks, refuses a second process on the same data dir in
// one line, stops cleanly on SIGINT, and its data survives the restart.
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli, startCli } from './support.ts'

t.test('start on the embedded default: works, locks its data dir, stops cleanly, keeps data', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sy-start-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))

  // Enqueued before start through the same data dir: proves the CLI opens it when free.
  const enqueued = await runCli(['enqueue', 'noop', '--payload', '{"from":"test"}', '--key', 'quickstart-1'], dir)
  t.equal(enqueued.code, 0, enqueued.stderr)
  const { id, created } = JSON.parse(enqueued.stdout.trim()) as { id: string, created: boolean }
  t.ok(created)

  const started = Date.now()
  const proc = startCli(['start'], dir)
  t.teardown(() => { if (proc.child.exitCode === null) proc.child.kill('SIGKILL') })
  await proc.waitFor('Press Ctrl-C to stop.', 60_000)
  t.comment(`started in ${Date.now() - started} ms`)
  t.match(proc.stdout(), /backend: +pglite \(embedded Postgres, data in .*\.switchyard/)
  t.match(proc.stdout(), /demo: +on/)

  // A second process on the same embedded data dir is refused in one line.
  const second = await runCli(['tasks'], dir)
  t.equal(second.code, 1)
  t.equal(second.stderr.trim().split('\n').length, 1, 'one line')
  t.match(second.stderr, /PGLITE_DATADIR_LOCKED/)

  await proc.waitFor(/processed [1-9]/, 30_000)
  proc.child.kill('SIGINT')
  t.equal(await proc.exited, 0)
  t.match(proc.stdout(), 'switchyard stopped cleanly')

  // Data survives the restart: the task enqueued before start succeeded, and the key still dedupes.
  const tasks = await runCli(['tasks', '--state', 'succeeded', '--limit', '1000'], dir)
  t.equal(tasks.code, 0, tasks.stderr)
  t.match(tasks.stdout, new RegExp(`^${id} +succeeded +default +noop`, 'm'))
  const again = await runCli(['enqueue', 'noop', '--key', 'quickstart-1'], dir)
  t.same(JSON.parse(again.stdout.trim()), { id, created: false })
})
