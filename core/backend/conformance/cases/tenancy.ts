import type { TaskFilter } from '../../types.ts'
import {
  conformanceCase, enqueueIds, enqueueOne, makeDead, mustGetTask, newTask,
  type ConformanceArea
} from '../support.ts'

// Optional tenant and correlation id on tasks: stored, shown, and filterable in every
// task and DLQ list (and so in everything that selects tasks by filter).

export const tenancyArea: ConformanceArea = {
  name: 'tenancy',
  run (t, ctx) {
    const { backend, capabilities: caps } = ctx
    const filters = (fields: Array<keyof TaskFilter>): boolean => fields.every(f => caps.taskFilters.includes(f))

    conformanceCase(t, 'tenant and correlationId round-trip, and are absent when not given', async t => {
      const queue = ctx.name('roundtrip')
      const tenant = ctx.name('acme').replace(/[^A-Za-z0-9_.:-]/g, '-')
      const [withBoth, without] = await enqueueIds(backend, [
        newTask(queue, { tenant, correlationId: 'order 42/β' }),
        newTask(queue)
      ])
      const task = await mustGetTask(backend, withBoth!)
      t.equal(task.tenant, tenant)
      t.equal(task.correlationId, 'order 42/β')
      const plain = await mustGetTask(backend, without!)
      t.equal(plain.tenant, undefined, 'no tenant: absent')
      t.equal(plain.correlationId, undefined, 'no correlation id: absent')
      const listed = await backend.listTasks({ queue, limit: 10, offset: 0 })
      t.match(listed.tasks.find(x => x.id === withBoth), { tenant, correlationId: 'order 42/β' }, 'lists carry them too')
    })

    t.test('filters by tenant and correlation id', { skip: filters(['tenant', 'correlationId']) ? false : 'backend does not filter by tenant and correlationId' }, async t => {
      const queue = ctx.name('filter')
      const a = ctx.name('tenant-a')
      const b = ctx.name('tenant-b')
      const flow = ctx.name('flow')
      const ids = await enqueueIds(backend, [
        newTask(queue, { tenant: a, correlationId: flow }),
        newTask(queue, { tenant: a }),
        newTask(queue, { tenant: b, correlationId: flow }),
        newTask(queue)
      ])
      const page = async (filter: TaskFilter): Promise<string[]> =>
        (await backend.listTasks({ ...filter, limit: 100, offset: 0 })).tasks.map(x => x.id).sort()
      t.same(await page({ tenant: a }), [ids[0], ids[1]].sort(), 'by tenant (across queues)')
      t.same(await page({ tenant: a, queue, state: 'ready' }), [ids[0], ids[1]].sort(), 'by tenant, queue and state')
      t.same(await page({ correlationId: flow }), [ids[0], ids[2]].sort(), 'by correlation id')
      t.same(await page({ tenant: b, correlationId: flow }), [ids[2]], 'both')
      t.same(await page({ tenant: ctx.name('nobody') }), [], 'a tenant with no tasks')
      const counted = await backend.listTasks({ tenant: a, limit: 1, offset: 0 })
      t.ok(counted.total === null || counted.total === 2, `total is exact or null (${String(counted.total)})`)
    })

    t.test('the DLQ list and a requeue by filter honour the tenant', { skip: filters(['tenant', 'state']) ? false : 'backend does not filter by tenant' }, async t => {
      const queue = ctx.name('dlq')
      const a = ctx.name('dlq-a')
      const deadA = await makeDead(backend, queue, 2, { tenant: a, correlationId: 'c-1' })
      const deadOther = await makeDead(backend, queue, 1)
      const dlq = await backend.listTasks({ state: 'dead', tenant: a, limit: 10, offset: 0 })
      t.same(dlq.tasks.map(x => x.id).sort(), [...deadA].sort(), 'dead tasks of the tenant only')
      t.match(dlq.tasks[0], { tenant: a, correlationId: 'c-1' }, 'shown with tenant and correlation id')
      const dry = await backend.requeueTasks({ filter: { tenant: a, queue, limit: 100 }, fromStates: ['dead'], dryRun: true })
      t.same([...dry.requeued].sort(), [...deadA].sort(), 'a requeue by filter selects only the tenant\'s tasks')
      t.equal((await mustGetTask(backend, deadOther[0]!)).state, 'dead', 'the other tenant\'s task is untouched')
    })

    conformanceCase(t, 'a replace keeps the tenant and correlation id of the task it updates', async t => {
      if (!caps.idempotencyKeys || caps.idempotencyModes?.includes('replace') !== true) {
        t.pass('backend has no replace mode')
        return
      }
      const queue = ctx.name('replace')
      const k = ctx.name('key')
      const id = await enqueueOne(backend, newTask(queue, { idempotencyKey: k, tenant: 'first', correlationId: 'one' }))
      const [r] = await backend.enqueue([newTask(queue, { idempotencyKey: k, idempotencyMode: 'replace', tenant: 'second', correlationId: 'two', payload: { v: 2 } })])
      t.match(r, { id, outcome: 'replaced' })
      t.match(await mustGetTask(backend, id), { tenant: 'first', correlationId: 'one', payload: { v: 2 } })
    })
  }
}
