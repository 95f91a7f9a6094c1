// DLQ housekeeping and time windows from the command line, through a real gateway:
// `tasks list` and `dlq list` with --since, `dlq replay --ids … --payloads` into another
// queue, and `dlq purge` (selection required, dry run, then the deletion).
import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startDeployment } from './deployment.ts'
import { waitFor as pollUntil } from '../../core/backend/conformance/support.ts'

t.setTimeout(600_000)
const d = await startDeployment(t)

async function waitFor<T> (what: string, check: () => Promise<T | null | false>): Promise<T> {
  return await pollUntil(check, { what, timeoutMs: 30_000, intervalMs: 200 })
}

t.test('time windows on lists, batch replay with edited payloads, purge', async t => {
  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.push((await d.admin.call('EnqueueTask', { handler: 'boom', queue: 'hkq', maxAttempts: 1, payload: { i } })).id)
  const deadIn = async (queue: string): Promise<number> => (await d.admin.call('GetDLQStats', {})).byQueue[queue] ?? 0
  await waitFor('three dead tasks', async () => await deadIn('hkq') === 3)

  const recent = await d.json<{ entries: Array<{ id: string }>, total?: number }>(['dlq', 'list', '--queue', 'hkq', '--since', '1h'])
  t.same(recent.entries.map(e => e.id).sort(), [...ids].sort(), 'dlq list --since 1h: dead in the last hour')
  const future = await d.json<{ entries: unknown[], total?: number }>(['dlq', 'list', '--queue', 'hkq', '--since', '2099-01-01T00:00:00Z'])
  t.same(future, { entries: [], total: 0, limit: 50, offset: 0 }, 'an RFC 3339 --since after every failure: none')
  const tasks = await d.json<{ tasks: Array<{ id: string }> }>(['tasks', 'list', '--state', 'dead', '--queue', 'hkq', '--since', '1h', '--until', '0s'])
  t.equal(tasks.tasks.length, 3, 'tasks list --state dead --since 1h --until 0s')
  const bad = await d.cli(['tasks', 'list', '--since', 'last tuesday'])
  t.equal(bad.code, 2, 'a --since that is neither a time nor a duration is a usage error')

  await writeFile(join(d.dir, 'edits.json'), JSON.stringify({ [ids[0] as string]: { i: 0, fixed: true } }))
  const replay = await d.json<{ count: number, replayed: string[] }>(['dlq', 'replay', '--ids', `${ids[0] as string},${ids[1] as string}`, '--payloads', '@edits.json', '--target-queue', 'hkq-edited', '--yes'])
  t.match(replay, { count: 2, replayed: [ids[0], ids[1]] }, 'a batch replayed with --payloads into another queue')
  await waitFor('the replayed tasks to die again', async () => await deadIn('hkq-edited') === 2)
  t.match((await d.admin.call('GetTask', { id: ids[0] as string })).task, { queue: 'hkq-edited', payload: { i: 0, fixed: true } }, 'the edited payload')
  t.match((await d.admin.call('GetTask', { id: ids[1] as string })).task, { queue: 'hkq-edited', payload: { i: 1 } }, 'the other keeps its own')

  const none = await d.cli(['dlq', 'purge', '--yes'])
  t.equal(none.code, 2, 'purge without a selection: usage error')
  t.match(none.stderr, /select what to purge/)
  const unconfirmed = await d.cli(['dlq', 'purge', '--queue', 'hkq-edited'])
  t.equal(unconfirmed.code, 2, 'no terminal and no --yes: usage error')
  const dry = await d.json<{ dryRun: boolean, count: number, sample: string[] }>(['dlq', 'purge', '--queue', 'hkq-edited', '--older-than', '0s', '--dry-run'])
  t.match(dry, { dryRun: true, count: 2, more: false }, 'the dry run counts')
  t.equal(await deadIn('hkq-edited'), 2, 'and deletes nothing')
  const text = await d.cli(['dlq', 'purge', '--queue', 'hkq-edited', '--older-than', '0s', '--yes'])
  t.equal(text.code, 0)
  t.match(text.stdout, /deleted 2 dead tasks for good/)
  t.equal(await deadIn('hkq-edited'), 0, 'they are gone')
  t.equal(await deadIn('hkq'), 1, 'the other queue is untouched')
})

t.test('a script confirms exactly what its dry run showed: --expect-selection', async t => {
  const deadIn = async (queue: string): Promise<number> => (await d.admin.call('GetDLQStats', {})).byQueue[queue] ?? 0
  const kill = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await d.admin.call('EnqueueTask', { handler: 'boom', queue: 'selq', maxAttempts: 1, payload: { i } })
  }
  await kill(2)
  await waitFor('two dead tasks', async () => await deadIn('selq') === 2)
  const dryText = await d.cli(['dlq', 'purge', '--queue', 'selq', '--dry-run'])
  t.equal(dryText.code, 0)
  const [, selection] = /selection (\d+-[0-9a-f]{16}): to change exactly these, run the same command with --yes --expect-selection/.exec(dryText.stdout) ?? []
  t.match(selection, /^2-/, 'the dry run prints its selection and how to confirm it')
  await kill(1)
  await waitFor('a third dead task', async () => await deadIn('selq') === 3)
  const refused = await d.cli(['dlq', 'purge', '--queue', 'selq', '--yes', '--expect-selection', selection as string])
  t.not(refused.code, 0, 'the selection changed: refused')
  t.match(refused.stderr, /3 tasks instead of the 2 previewed; nothing was changed/)
  t.equal(await deadIn('selq'), 3, 'nothing deleted')
  const dry = await d.json<{ selection: string, count: number }>(['dlq', 'purge', '--queue', 'selq', '--dry-run'])
  const done = await d.json<{ count: number }>(['dlq', 'purge', '--queue', 'selq', '--yes', '--expect-selection', dry.selection])
  t.equal(done.count, 3, 'confirmed: exactly the previewed count')
  t.equal(await deadIn('selq'), 0)
})
