// "All matching" bulk actions confirmed with the selection their dry run answered
// (expectedSelection): on every backend, a selection that changed between the preview
// and the confirmation is refused with SELECTION_CHANGED and nothing changes; an
// unchanged one changes exactly the previewed tasks. One HTTPS call shows the refusal
// as the 409 of the error envelope.
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { createBullMQBackend } from '@switchyard/backend-bullmq'
import { embeddedBackend, makeDead, makeService, newTask, rejection, serverBackend, suffix, call } from '../../core/admin/test-support.ts'
import type { Backend } from '../../core/backend/types.ts'
import { openTestBackend } from '../../plugins/backend-redis/testing.ts'
import { adminService, gatewayFor, httpsCall, makeCerts } from './support.ts'

type Open = (t: Test) => Promise<Backend>

const BACKENDS: Array<[string, Open]> = [
  ['postgres', serverBackend],
  ['pglite', embeddedBackend],
  ['redis', async t => { const { backend, destroy } = await openTestBackend(); t.teardown(destroy); return backend }],
  ['bullmq', async t => {
    const backend = createBullMQBackend({ prefix: `sysel${randomBytes(5).toString('hex')}` })
    await backend.init()
    t.teardown(async () => { await backend.destroyAllData(); await backend.close() })
    return backend
  }]
]

async function states (backend: Backend, ids: string[]): Promise<string[]> {
  return await Promise.all(ids.map(async id => (await backend.getTask(id))?.state ?? 'gone'))
}

const sorted = (ids: string[]): string[] => [...ids].sort()

for (const [name, open] of BACKENDS) {
  t.test(`${name}: confirmed bulk actions change exactly the preview, or nothing`, async t => {
    const backend = await open(t)
    const { service } = makeService(t, backend)

    t.test('ReplayDLQ', async t => {
      const queue = `sel-replay-${suffix()}`
      const first = await makeDead(backend, queue, 3)
      const dry = await service.ReplayDLQ({ limit: 10, queue, dryRun: true }, call())
      t.equal(dry.count, 3)
      t.match(dry.selection, /^3-[0-9a-f]{16}$/, 'the dry run answers its selection')
      const late = await makeDead(backend, queue, 1)
      const refused = await rejection(service.ReplayDLQ({ limit: 10, queue, expectedSelection: dry.selection }, call()))
      t.match(refused, { code: 'SELECTION_CHANGED', statusCode: 409, details: { expectedCount: 3, count: 4, field: 'expectedSelection' } }, 'a task that arrived after the preview: refused')
      t.match(refused.message, /4 tasks instead of the 3 previewed/)
      t.same(await states(backend, [...first, ...late]), ['dead', 'dead', 'dead', 'dead'], 'nothing replayed')
      const again = await service.ReplayDLQ({ limit: 10, queue, dryRun: true }, call())
      const done = await service.ReplayDLQ({ limit: 10, queue, expectedSelection: again.selection }, call())
      t.equal(done.count, 4, 'confirmed: the previewed count')
      t.same(sorted(done.replayed), sorted(again.replayed), 'exactly the previewed tasks')
      t.equal(done.selection, again.selection)
      t.same(await states(backend, [...first, ...late]), ['ready', 'ready', 'ready', 'ready'])
    })

    t.test('PurgeDLQ', async t => {
      const queue = `sel-purge-${suffix()}`
      const ids = await makeDead(backend, queue, 3)
      const dry = await service.PurgeDLQ({ queue, dryRun: true }, call())
      t.equal(dry.count, 3)
      // same count, other tasks: one leaves the selection (replayed), one arrives
      const late = await makeDead(backend, queue, 1)
      await service.ReplayDLQByID({ ids: [ids[0] as string] }, call())
      const refused = await rejection(service.PurgeDLQ({ queue, expectedSelection: dry.selection }, call()))
      t.match(refused, { code: 'SELECTION_CHANGED', details: { expectedCount: 3, count: 3 } }, 'the same count of other tasks: refused')
      t.match(refused.message, /same number of tasks \(3\) but not the same tasks/)
      t.same(await states(backend, [...ids, ...late]), ['ready', 'dead', 'dead', 'dead'], 'nothing deleted')
      const again = await service.PurgeDLQ({ queue, dryRun: true }, call())
      const done = await service.PurgeDLQ({ queue, expectedSelection: again.selection }, call())
      t.equal(done.count, 3)
      t.same(sorted(done.sample), sorted(again.sample), 'exactly the previewed entries')
      t.same(await states(backend, [...ids, ...late]), ['ready', 'gone', 'gone', 'gone'])
    })

    t.test('BulkTaskAction by filter', async t => {
      const queue = `sel-bulk-${suffix()}`
      const ids = (await backend.enqueue([newTask(queue), newTask(queue), newTask(queue)])).map(r => r.id)
      const request = { action: 'cancel' as const, ids: [], filter: { queue } }
      const dry = await service.BulkTaskAction({ ...request, dryRun: true }, call())
      t.equal(dry.count, 3)
      const [late] = (await backend.enqueue([newTask(queue)])).map(r => r.id) as [string]
      t.match(await rejection(service.BulkTaskAction({ ...request, expectedSelection: dry.selection }, call())), { code: 'SELECTION_CHANGED', details: { expectedCount: 3, count: 4 } })
      t.same(await states(backend, [...ids, late]), ['ready', 'ready', 'ready', 'ready'], 'nothing canceled')
      const again = await service.BulkTaskAction({ ...request, dryRun: true }, call())
      const done = await service.BulkTaskAction({ ...request, expectedSelection: again.selection }, call())
      t.equal(done.count, 4)
      t.same(sorted(done.changed), sorted(again.changed))
      t.same(await states(backend, [...ids, late]), ['canceled', 'canceled', 'canceled', 'canceled'])
    })

    t.test('DrainQueue', async t => {
      const queue = `sel-drain-${suffix()}`
      const ids = (await backend.enqueue([newTask(queue), newTask(queue)])).map(r => r.id)
      const dry = await service.DrainQueue({ name: queue, dryRun: true }, call())
      t.equal(dry.count, 2)
      const [late] = (await backend.enqueue([newTask(queue)])).map(r => r.id) as [string]
      t.match(await rejection(service.DrainQueue({ name: queue, expectedSelection: dry.selection }, call())), { code: 'SELECTION_CHANGED' })
      t.same(await states(backend, [...ids, late]), ['ready', 'ready', 'ready'], 'nothing deleted')
      const again = await service.DrainQueue({ name: queue, dryRun: true }, call())
      const done = await service.DrainQueue({ name: queue, expectedSelection: again.selection }, call())
      t.equal(done.count, 3)
      t.same(await states(backend, [...ids, late]), ['gone', 'gone', 'gone'])
      t.match(await rejection(service.DrainQueue({ name: queue, expectedSelection: 'not-a-selection' }, call())), { code: 'VALIDATION_FAILED' }, 'a malformed selection is bad input')
    })
  })
}

t.test('over HTTPS the refusal is a 409 with the SELECTION_CHANGED envelope', async t => {
  const backend = await serverBackend(t)
  const { service } = adminService(t, backend)
  const certs = await makeCerts(t)
  const { address } = await gatewayFor(t, service, certs)
  const queue = `sel-http-${suffix()}`
  await makeDead(backend, queue, 2)
  const post = async (body: unknown) => await httpsCall(address, { method: 'POST', path: '/admin/v1/dlq/replay', identity: certs.admin, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
  const dry = await post({ limit: 10, queue, dryRun: true })
  t.equal(dry.status, 200, dry.text)
  await makeDead(backend, queue, 1)
  const refused = await post({ limit: 10, queue, expectedSelection: (dry.json as { selection: string }).selection })
  t.equal(refused.status, 409, refused.text)
  t.match(refused.json, { error: { code: 'SELECTION_CHANGED', details: { expectedCount: 2, count: 3 } } })
  t.equal((await backend.queueStats([queue]))[0]?.dead, 3, 'nothing replayed')
})
