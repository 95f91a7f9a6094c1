// The global rate limit taken inside the lease (migration 025, lease_rated()): one
// statement per lease within the limit, where the permits and the lease used to be
// two; the lease without a limit is untouched; and a statement whose now() lies in a
// window the limiter has already left leases nothing (its starts would land, by
// started_at, in a window counted and closed).
import t, { type Test } from 'tap'
import type { Backend } from '@switchyard/core'
import type { SqlClient } from './index.ts'
import { memoryBackend, schemaBackend, task, waitUntil } from './test-support.ts'

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

async function statementsPerLease (t: Test, backend: Backend, statements: () => number): Promise<void> {
  const queue = 'rated'
  await backend.enqueue(Array.from({ length: 6 }, () => task(queue)))
  const lease = { workerId: 'w', queues: [queue], limit: 2, leaseMs: 60_000 }
  let before = statements()
  t.equal((await backend.leaseTasks(lease)).length, 2)
  t.equal(statements() - before, 1, 'no rate limit: leaseTasks is one statement, as before')
  // a window of a day (epoch-aligned, as every window): it does not turn during the test
  await backend.setRateLimit({ limit: 3, windowMs: 86_400_000 })
  before = statements()
  const first = await backend.leaseWithinRateLimit!(lease)
  t.equal(statements() - before, 1, 'within the rate limit: one statement takes the permits and leases')
  t.same([first.tasks.length, first.rateLimited], [2, false])
  before = statements()
  const capped = await backend.leaseWithinRateLimit!(lease)
  t.equal(statements() - before, 1, 'capped by the limit: still one statement')
  t.same([capped.tasks.length, capped.rateLimited], [1, true], 'one permit left of three: one task, rate limited')
  before = statements()
  await backend.takeRatePermits(2)
  await backend.leaseTasks(lease)
  t.equal(statements() - before, 2, 'the two steps of old: two statements')
}

t.test('postgres: one statement per lease within the rate limit; none more without one', async t => {
  let statements = (): number => 0
  const { backend } = await schemaBackend(t, { wrap: raw => { const counted = counting(raw); statements = counted.statements; return counted.client } })
  await statementsPerLease(t, backend, () => statements())
})

t.test('pglite: one statement per lease within the rate limit; none more without one', async t => {
  let statements = (): number => 0
  const { backend } = await memoryBackend(t, { schema: 'rated', wrap: raw => { const counted = counting(raw); statements = counted.statements; return counted.client } })
  await statementsPerLease(t, backend, () => statements())
})

t.test('postgres: a lease whose now() is in a window the limiter has left leases nothing', async t => {
  const { raw, backend, schema } = await schemaBackend(t, { poolSize: 2 })
  const queue = 'late'
  const windowMs = 300
  await backend.enqueue(Array.from({ length: 10 }, () => task(queue)))
  await backend.setRateLimit({ limit: 5, windowMs })
  const late = await raw.transaction(async tx => {
    // now() is fixed from here on: this transaction's starts would be stamped in window k
    const [row] = await tx.query<{ at: number }>(`SELECT "${schema}".ms(now()) AS at`)
    const window = Math.floor((row?.at ?? 0) / windowMs)
    await waitUntil(async () => Math.floor((await backend.now()) / windowMs) > window, 'the next window')
    // another connection leases in window k + 1: the limiter moves on
    const other = await backend.leaseWithinRateLimit!({ workerId: 'w-now', queues: [queue], limit: 1, leaseMs: 60_000 })
    t.equal(other.tasks.length, 1, 'a lease of the new window')
    return await tx.query<{ id: string | null }>(`SELECT id FROM "${schema}".lease_rated($1::text[], 5, 'w-late', 60000, NULL, false)`, [[queue]])
  })
  t.same(late, [{ id: null }], 'the late lease takes nothing and reports the limit reached')
  const { tasks } = await backend.listTasks({ queue, state: 'processing', limit: 100, offset: 0 })
  t.equal(tasks.length, 1, 'only the lease of the new window started a task')
})
