// `switchyard workers ...` against a real deployment (`switchyard start` on Postgres):
// cordoning its worker holds new tasks back until it is uncordoned; releasing the
// leases of a live worker is refused; sweeping and the stale listing answer.
import t from 'tap'
import { startDeployment } from './deployment.ts'
import { waitFor } from '../../core/backend/conformance/support.ts'

t.setTimeout(600_000)
const d = await startDeployment(t)

interface Worker { id: string, cordoned: boolean, stale: boolean, lastHeartbeatAt: string }

async function theWorker (): Promise<Worker> {
  const { workers } = await d.admin.call('ListWorkers', {})
  const [worker] = workers
  if (worker === undefined) throw new Error('the deployment lists no worker')
  return worker
}

/** two heartbeats after now: the second began after anything stored before this call */
async function twoHeartbeats (): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const before = (await theWorker()).lastHeartbeatAt
    await waitFor(async () => (await theWorker()).lastHeartbeatAt !== before, { timeoutMs: 20_000, intervalMs: 100, what: 'a worker heartbeat' })
  }
}

t.test('workers cordon holds new tasks back; uncordon lets them run', async t => {
  const listed = await d.json<{ workers: Worker[] }>(['workers', 'list'])
  t.equal(listed.workers.length, 1, 'one live worker (workers list is workers)')
  const id = listed.workers[0]!.id

  t.match(await d.json(['workers', 'cordon', id]), { worker: { id, cordoned: true }, changed: true })
  const text = await d.cli(['workers'])
  t.equal(text.code, 0, text.stderr)
  t.match(text.stdout, /live, cordoned/, 'the table shows it cordoned')
  t.match(text.stdout, /1 live worker, 1 cordoned/)
  await twoHeartbeats()

  const { id: taskId } = await d.admin.call('EnqueueTask', { handler: 'ok', queue: 'cordonq' })
  // the worker polls every 100 ms: leasing, it would have run the task many times over
  await new Promise(resolve => setTimeout(resolve, 1_500))
  t.equal((await d.admin.call('GetTask', { id: taskId })).task.state, 'ready', 'a task enqueued after the cordon waits')

  const again = await d.cli(['workers', 'uncordon', id])
  t.equal(again.code, 0, again.stderr)
  t.match(again.stdout, new RegExp(`worker ${id} uncordoned`))
  await waitFor(async () => (await d.admin.call('GetTask', { id: taskId })).task.state === 'succeeded', { timeoutMs: 30_000, intervalMs: 100, what: 'the task to run once uncordoned' })
  t.pass('the task ran once the worker was uncordoned')

  const unknown = await d.cli(['workers', 'cordon', 'no-such-worker'])
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /WORKER_NOT_FOUND/)
  const missing = await d.cli(['workers', 'cordon'])
  t.equal(missing.code, 2, 'the worker id is required')
})

t.test('workers release-leases refuses a live worker; dry run, force and sweep answer', async t => {
  const { id } = await theWorker()
  const refused = await d.cli(['workers', 'release-leases', id])
  t.equal(refused.code, 1)
  t.match(refused.stderr, /WORKER_ALIVE/)
  t.match(refused.stderr, /force/)
  t.match(await d.json(['workers', 'release-leases', id, '--force', '--dry-run']), { id, dryRun: true, alive: true })
  const gone = await d.cli(['workers', 'release-leases', 'gone-worker'])
  t.equal(gone.code, 0, gone.stderr)
  t.match(gone.stdout, /holds no lease; nothing released/)

  t.match(await d.json(['workers', 'sweep', '--older-than', '10m', '--dry-run']), { dryRun: true, count: 0, workers: [] })
  const swept = await d.cli(['workers', 'sweep'])
  t.equal(swept.code, 0, swept.stderr)
  t.match(swept.stdout, /nothing swept/)
  const badAge = await d.cli(['workers', 'sweep', '--older-than', 'soon'])
  t.equal(badAge.code, 2)
  t.match(badAge.stderr, /--older-than/)
  const stale = await d.json<{ workers: Worker[] }>(['workers', '--stale'])
  t.ok(stale.workers.some(w => w.id === id && !w.stale), 'the live worker, listed with --stale too')

  const audit = await d.json<{ events: Array<{ action: string }> }>(['audit', 'list', '--action', 'worker.cordon'])
  t.ok(audit.events.length >= 1, 'cordons are audited')
})
