import type { Test } from 'tap'
import type { Backend, TaskFilter } from '../../types.ts'
import {
  CASE_TIMEOUT_MS, enqueueOne, makeDead, mustGetTask, newTask,
  type ConformanceArea, type ConformanceContext
} from '../support.ts'

// What DLQ housekeeping (core/admin/dlq-housekeeping.ts) asks of a backend: replay by
// ListDLQ's text filter and time window (requeueTasks' filter selection), a batch of
// ids replayed into another queue with edited payloads (requeue per item), and a purge
// that selects by the list predicate and deletes exactly the dry run's set, with the
// counts and DLQ statistics following.

function housekeepingCase (t: Test, ctx: ConformanceContext, fields: Array<keyof TaskFilter>, name: string, fn: (t: Test) => Promise<void>): void {
  const missing = fields.filter(f => !ctx.capabilities.taskFilters.includes(f))
  if (missing.length > 0) t.test(name, { skip: `backend does not filter by ${missing.join(', ')}` }, async () => {})
  else t.test(name, { timeout: CASE_TIMEOUT_MS }, fn)
}

async function after (backend: Backend, time: number): Promise<void> {
  while (await backend.now() <= time + 1) await new Promise(resolve => setTimeout(resolve, 5))
}

/** every dead task of a queue matching a filter, as a purge pages through ListDLQ */
async function selectDead (backend: Backend, filter: TaskFilter): Promise<string[]> {
  const ids: string[] = []
  for (let offset = 0; ; offset += 2) {
    const page = await backend.listTasks({ ...filter, state: 'dead', limit: 2, offset })
    ids.push(...page.tasks.map(x => x.id))
    if (page.tasks.length < 2) return ids
  }
}

export const dlqHousekeepingArea: ConformanceArea = {
  name: 'dlq-housekeeping',
  run (t, ctx) {
    const { backend, capabilities: caps } = ctx

    housekeepingCase(t, ctx, ['state', 'queue', 'query', 'since'], 'replay by filter: the text filter and the window select as the list does', async t => {
      const queue = ctx.name('hk-replay')
      const [early] = await makeDead(backend, queue, 1, { payload: { note: 'needle early' } })
      const earlyTask = await mustGetTask(backend, early as string)
      await after(backend, earlyTask.finishedAt as number)
      const [late] = await makeDead(backend, queue, 2, { payload: { note: 'Needle late' } })
      const lateTask = await mustGetTask(backend, late as string)
      const filter = { state: 'dead' as const, queue, query: 'NEEDLE LATE', since: lateTask.finishedAt as number }
      const listed = (await backend.listTasks({ ...filter, limit: 100, offset: 0 })).tasks.map(x => x.id).sort()
      const dry = await backend.requeueTasks({ filter: { ...filter, limit: 100 }, fromStates: ['dead'], dryRun: true })
      t.same([...dry.requeued].sort(), listed, 'the dry run selects exactly what the list shows')
      t.notOk(dry.requeued.includes(early as string), 'the earlier failure is outside the window')
      const done = await backend.requeueTasks({ filter: { ...filter, limit: 100 }, fromStates: ['dead'] })
      t.same([...done.requeued].sort(), [...dry.requeued].sort(), 'the replay moves that set')
      t.equal((await mustGetTask(backend, early as string)).state, 'dead', 'the task outside the window stays dead')
    })

    t.test('a batch replayed into another queue, each task with its own payload', { timeout: CASE_TIMEOUT_MS }, async t => {
      const queue = ctx.name('hk-edit')
      const target = ctx.name('hk-edit-target')
      const ids = await makeDead(backend, queue, 3)
      const results = await Promise.all(ids.map(async (id, i) => await backend.requeueTasks({ ids: [id], fromStates: ['dead'], queue: target, payload: { edited: i } })))
      t.same(results.map(r => r.requeued), ids.map(id => [id]), 'each replayed')
      for (const [i, id] of ids.entries()) {
        t.match(await mustGetTask(backend, id), { state: 'ready', queue: target, payload: { edited: i }, attempts: 0, replays: 1 }, `task ${i}: its payload, the target queue, a fresh budget`)
      }
      const [stats] = await backend.queueStats([target])
      t.equal(stats?.ready, 3, 'the target queue counts them as ready')
    })

    housekeepingCase(t, ctx, ['state', 'queue', 'since'], 'purge: the list predicate selects, deleteTasks removes exactly the dry run set, counts follow', async t => {
      const queue = ctx.name('hk-purge')
      const old = await makeDead(backend, queue, 3)
      const lastOld = await mustGetTask(backend, old[2] as string)
      await after(backend, lastOld.finishedAt as number)
      const recent = await makeDead(backend, queue, 2)
      const firstRecent = await mustGetTask(backend, recent[0] as string)
      const before = await backend.dlqStats()

      const selected = await selectDead(backend, { queue, until: firstRecent.finishedAt as number - 1 })
      t.same([...selected].sort(), [...old].sort(), 'paging the window selects the older failures, each once')
      const dry = await backend.deleteTasks({ ids: selected, fromStates: ['dead'], dryRun: true })
      t.same([...dry.deleted].sort(), [...old].sort(), 'the dry run answers the set')
      t.equal((await mustGetTask(backend, old[0] as string)).state, 'dead', 'and deletes nothing')
      const done = await backend.deleteTasks({ ids: selected, fromStates: ['dead'] })
      t.same([...done.deleted].sort(), [...dry.deleted].sort(), 'the deletion removes exactly that set')
      t.same([...await selectDead(backend, { queue })].sort(), [...recent].sort(), 'only the recent failures remain')
      const [stats] = await backend.queueStats([queue])
      t.equal(stats?.dead, 2, 'the queue counts follow')
      const after_ = await backend.dlqStats()
      t.equal(after_.total, before.total - 3, 'so do the DLQ statistics')
      if (caps.taskCount !== null) t.equal((await backend.listTasks({ state: 'dead', queue, limit: 10, offset: 0 })).total, 2, 'and the list total')
    })

    t.test('purge never deletes a task that left the DLQ between selection and deletion', { timeout: CASE_TIMEOUT_MS }, async t => {
      const queue = ctx.name('hk-purge-race')
      const ids = await makeDead(backend, queue, 2)
      await backend.requeueTasks({ ids: [ids[0] as string], fromStates: ['dead'] })
      const done = await backend.deleteTasks({ ids, fromStates: ['dead'] })
      t.same(done.deleted, [ids[1]], 'only the one still dead is deleted')
      t.same(done.skipped, [{ id: ids[0], reason: 'wrong_state', state: 'ready' }], 'the replayed one is skipped')
      t.equal((await mustGetTask(backend, ids[0] as string)).state, 'ready', 'and kept')
      const waiting = await enqueueOne(backend, newTask(queue))
      t.same((await backend.deleteTasks({ ids: [waiting], fromStates: ['dead'], dryRun: true })).deleted, [], 'a task that never died is never selected')
    })
  }
}
