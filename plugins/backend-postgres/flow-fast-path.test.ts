// Flow limits on the hot path (migration 020): a lease under limits with room for the
// whole batch takes the plain lease's statement and still counts its starts; a limit
// with less room than the batch still stops the lease at the limit; a busy worker acks
// and leases in one call under limits. And the write-light table settings of
// migration 019 are in place on a server (and PGlite still migrates: migrate.test.ts).
import t, { type Test } from 'tap'
import type { Backend } from '@switchyard/core'
import type { SqlClient } from './index.ts'
import { memoryBackend, schemaBackend, task } from './test-support.ts'

/** a client that counts the statements sent through it */
function counting (client: SqlClient): { client: SqlClient, statements: () => number } {
  let n = 0
  const counted: SqlClient = {
    kind: client.kind,
    query: async (text, params) => { n++; return await client.query(text, params) },
    exec: async text => { n++; await client.exec(text) },
    transaction: async fn => await client.transaction(fn),
    listen: async (channel, onNotify) => await client.listen(channel, onNotify),
    close: async () => { await client.close() }
  }
  return { client: counted, statements: () => n }
}

async function serverBackend (t: Test): Promise<{ backend: Backend, statements: () => number, schema: string, client: SqlClient }> {
  let statements = (): number => 0
  const { raw, backend, schema } = await schemaBackend(t, { wrap: raw => { const counted = counting(raw); statements = counted.statements; return counted.client } })
  return { backend, statements: () => statements(), schema, client: raw }
}

async function pgliteBackend (t: Test): Promise<{ backend: Backend, statements: () => number }> {
  let statements = (): number => 0
  const { backend } = await memoryBackend(t, { schema: 'flow', wrap: raw => { const counted = counting(raw); statements = counted.statements; return counted.client } })
  return { backend, statements: () => statements() }
}

async function limitsHold (t: Test, backend: Backend, statements: () => number): Promise<void> {
  const roomy = { concurrency: 1_000, rate: { limit: 1_000_000, windowMs: 60_000 } }
  await backend.setFlowLimit({ kind: 'queue', name: 'q' }, roomy)
  await backend.setFlowLimit({ kind: 'handler', name: 'test.handler' }, roomy)
  await backend.setFlowLimit({ kind: 'tenant', name: 'acme' }, roomy)
  await backend.enqueue([
    ...Array.from({ length: 30 }, () => task('q')),
    ...Array.from({ length: 10 }, () => task('q', { tenant: 'acme' }))
  ])
  const req = { workerId: 'w', queues: ['q'], limit: 10, leaseMs: 60_000, handlers: ['test.handler'] }
  const first = await backend.leaseTasks(req)
  t.equal(first.length, 10, 'room for the batch under every limit: a whole batch')

  const before = statements()
  const next = await backend.completeAndLease!(first, req)
  t.equal(statements() - before, 1, 'acks and the next lease under limits in one statement')
  t.same(next.acks, Array(10).fill('ok'), 'the acks apply')
  t.equal(next.leased.length, 10, 'and the next batch is leased')

  const usage = new Map((await backend.listFlowLimits()).map(l => [`${l.kind}:${l.name}`, l]))
  t.match(usage.get('queue:q'), { running: 10, started: 20 }, 'the queue limit counts the starts of both leases')
  t.match(usage.get('handler:test.handler'), { running: 10, started: 20 })
  t.match(usage.get('tenant:acme'), { running: 0, started: 0 }, 'no task of the tenant started yet')

  // less room than the batch: the limit stops the lease exactly where it is used up
  await backend.setFlowLimit({ kind: 'handler', name: 'test.handler' }, { concurrency: 13, rate: null })
  const capped = await backend.completeAndLease!([], req)
  t.equal(capped.leased.length, 3, 'thirteen running at most: three more')
  t.same(await backend.leaseTasks(req), [], 'the limit is used up')

  const done = await backend.completeAndLease!([...next.leased, ...capped.leased], { ...req, limit: 20 })
  t.equal(done.leased.length, 13, 'acks free their places before the lease counts the running tasks')
  // run order is id order here: tasks 24-36 were leased last, 31-36 of them the tenant's
  const tenant = (await backend.listFlowLimits()).find(l => l.kind === 'tenant')
  t.match(tenant, { running: 6, started: 6 }, 'the tenant\'s starts count on the row-by-row path too')
}

t.test('postgres: unsaturated limits lease whole batches in one call and count every start; a tight limit still stops the lease', async t => {
  const { backend, statements } = await serverBackend(t)
  await limitsHold(t, backend, statements)
})

t.test('pglite: the same', { timeout: 120_000 }, async t => {
  const { backend, statements } = await pgliteBackend(t)
  await limitsHold(t, backend, statements)
})

t.test('postgres: tenant starts count on the fast path', async t => {
  const { backend } = await serverBackend(t)
  await backend.setFlowLimit({ kind: 'tenant', name: 'acme' }, { concurrency: null, rate: { limit: 1_000, windowMs: 60_000 } })
  await backend.enqueue([...Array.from({ length: 4 }, () => task('q', { tenant: 'acme' })), task('q'), task('q', { tenant: 'other' })])
  const leased = await backend.leaseTasks({ workerId: 'w', queues: ['q'], limit: 10, leaseMs: 60_000 })
  t.equal(leased.length, 6)
  const [tenant] = await backend.listFlowLimits()
  t.match(tenant, { kind: 'tenant', name: 'acme', started: 4 }, 'only the tenant\'s own starts count against its window')
})

t.test('postgres: task pages leave room for updates, event pages are compressed', async t => {
  const { schema, client } = await serverBackend(t)
  const [row] = await client.query<{ options: string[] | null, compression: string }>(`
    SELECT (SELECT reloptions FROM pg_class WHERE oid = '"${schema}".tasks'::regclass) AS options,
      (SELECT attcompression::text FROM pg_attribute WHERE attrelid = '"${schema}".event_pages'::regclass AND attname = 'events') AS compression`)
  t.ok(row?.options?.includes('fillfactor=50'), `tasks reloptions ${String(row?.options)}`)
  t.equal(row?.compression, 'l', 'events compressed with lz4')
})

t.test('postgres: a handler limit is judged on its own running tasks when other handlers\' tasks fill the bound', async t => {
  const { backend } = await serverBackend(t)
  await backend.enqueue([...Array.from({ length: 20 }, () => task('q', { handler: 'other' })), ...Array.from({ length: 20 }, () => task('q'))])
  t.equal((await backend.leaseTasks({ workerId: 'w', queues: ['q'], limit: 20, leaseMs: 60_000, handlers: ['other'] })).length, 20)
  // 20 tasks processing in all, none of them test.handler's: the bound (20) leaves no
  // room under 12, so the handler's own count (0) decides
  await backend.setFlowLimit({ kind: 'handler', name: 'test.handler' }, { concurrency: 12, rate: null })
  const req = { workerId: 'w', queues: ['q'], limit: 10, leaseMs: 60_000, handlers: ['test.handler'] }
  t.equal((await backend.leaseTasks(req)).length, 10, 'a whole batch: twelve places are free')
  t.equal((await backend.leaseTasks(req)).length, 2, 'then the two left')
  t.same(await backend.leaseTasks(req), [], 'then none')
})
