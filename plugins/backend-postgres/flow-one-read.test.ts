// Flow limits read once per lease (migration 023): when every limit has room for the
// batch and each rate limit's starts are the batch's rows (a queue limit of a one-queue
// lease, a handler limit of a one-handler lease), the starts are added by row count;
// any other lease counts them per scope as before. Each case checks the windows against
// what was really leased.
import t, { type Test } from 'tap'
import type { Backend, LeaseRequest } from '@switchyard/core'
import { memoryBackend, schemaBackend, task } from './test-support.ts'

async function serverBackend (t: Test): Promise<Backend> {
  return (await schemaBackend(t)).backend
}

async function started (backend: Backend): Promise<Record<string, number>> {
  return Object.fromEntries((await backend.listFlowLimits()).map(l => [`${l.kind}:${l.name}`, l.started]))
}

const roomyRate = { concurrency: 1_000, rate: { limit: 1_000_000, windowMs: 60_000 } }

/** how many tasks a lease, then two acks-and-leases of what came before, hand out */
async function threeLeases (backend: Backend, req: LeaseRequest): Promise<number[]> {
  const first = await backend.leaseTasks(req)
  const second = await backend.completeAndLease!(first, req)
  const third = await backend.completeAndLease!(second.leased, req)
  return [first.length, second.leased.length, third.leased.length]
}

async function rowCountCase (t: Test, backend: Backend): Promise<void> {
  await backend.setFlowLimit({ kind: 'queue', name: 'q' }, roomyRate)
  await backend.setFlowLimit({ kind: 'handler', name: 'test.handler' }, roomyRate)
  await backend.enqueue(Array.from({ length: 25 }, () => task('q')))
  const req: LeaseRequest = { workerId: 'w', queues: ['q'], limit: 10, leaseMs: 60_000, handlers: ['test.handler'] }
  t.same(await threeLeases(backend, req), [10, 10, 5], 'whole batches, then the rest')
  t.same(await started(backend), { 'handler:test.handler': 25, 'queue:q': 25 }, 'every start counted once in both windows')
}

t.test('postgres: one queue, one handler: starts counted by the batch\'s row count', async t => {
  await rowCountCase(t, await serverBackend(t))
})

t.test('pglite: the same', { timeout: 120_000 }, async t => {
  await rowCountCase(t, (await memoryBackend(t, { schema: 'flow' })).backend)
})

t.test('postgres: a handler rate limit of a lease over several handlers counts only that handler\'s starts', async t => {
  const backend = await serverBackend(t)
  await backend.setFlowLimit({ kind: 'handler', name: 'a' }, roomyRate)
  await backend.enqueue([...Array.from({ length: 4 }, () => task('q', { handler: 'a' })), ...Array.from({ length: 6 }, () => task('q', { handler: 'b' }))])
  const leased = await backend.completeAndLease!([], { workerId: 'w', queues: ['q'], limit: 20, leaseMs: 60_000, handlers: ['a', 'b'] })
  t.equal(leased.leased.length, 10)
  t.same(await started(backend), { 'handler:a': 4 })
})

t.test('postgres: a queue rate limit of a lease over several queues counts only that queue\'s starts', async t => {
  const backend = await serverBackend(t)
  await backend.setFlowLimit({ kind: 'queue', name: 'q1' }, roomyRate)
  await backend.enqueue([...Array.from({ length: 3 }, () => task('q1')), ...Array.from({ length: 5 }, () => task('q2'))])
  const leased = await backend.completeAndLease!([], { workerId: 'w', queues: ['q1', 'q2'], limit: 20, leaseMs: 60_000, handlers: ['test.handler'] })
  t.equal(leased.leased.length, 8)
  t.same(await started(backend), { 'queue:q1': 3 })
})

t.test('postgres: a rate window with less room than the batch stops the lease where it is used up', async t => {
  const backend = await serverBackend(t)
  await backend.setFlowLimit({ kind: 'queue', name: 'q' }, { concurrency: null, rate: { limit: 7, windowMs: 60_000 } })
  await backend.enqueue(Array.from({ length: 20 }, () => task('q')))
  const req: LeaseRequest = { workerId: 'w', queues: ['q'], limit: 5, leaseMs: 60_000, handlers: ['test.handler'] }
  t.same(await threeLeases(backend, req), [5, 2, 0], 'seven starts in the window, no more')
  t.same(await started(backend), { 'queue:q': 7 })
})
