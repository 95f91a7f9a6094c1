import type { Test } from 'tap'
import type { Backend, Task, TaskFilter } from '../../types.ts'
import {
  CASE_TIMEOUT_MS, enqueueIds, enqueueOne, leaseId, makeDead, mustGetTask, newTask,
  type ConformanceArea, type ConformanceContext
} from '../support.ts'

// Time windows (TaskFilter.since/until/timeField) on every task list: judged on the
// finish time for final-state filters and the creation time otherwise, both ends
// inclusive, in the same predicate as the other filters (listing and filter selection
// of requeueTasks), with totals as TaskTotals declares them.

const WINDOW_FIELDS: Array<keyof TaskFilter> = ['since', 'until', 'timeField']

function windowCase (t: Test, ctx: ConformanceContext, name: string, fn: (t: Test) => Promise<void>): void {
  const missing = WINDOW_FIELDS.filter(f => !ctx.capabilities.taskFilters.includes(f))
  if (missing.length > 0) t.test(name, { skip: `backend does not filter by ${missing.join(', ')}` }, async () => {})
  else t.test(name, { timeout: CASE_TIMEOUT_MS }, fn)
}

/** waits until the backend clock has moved past `time`, so the next task gets a later time */
async function after (backend: Backend, time: number): Promise<void> {
  while (await backend.now() <= time + 1) await new Promise(resolve => setTimeout(resolve, 5))
}

async function listIds (backend: Backend, filter: TaskFilter): Promise<{ ids: string[], total: number | null }> {
  const page = await backend.listTasks({ ...filter, limit: 1000, offset: 0 })
  return { ids: page.tasks.map(x => x.id).sort(), total: page.total }
}

export const timeWindowsArea: ConformanceArea = {
  name: 'time-windows',
  run (t, ctx) {
    const { backend, capabilities: caps } = ctx
    /** this area stores a handful of tasks: every total is exact, whatever the declared bound */
    const exactTotal = (t: Test, total: number | null, expected: number, what: string): void => {
      if (caps.taskCount !== null) t.equal(total, expected, `${what}: exact total`)
    }

    windowCase(t, ctx, 'created time: since and until, both ends inclusive', async t => {
      const queue = ctx.name('tw-created')
      const first = await mustGetTask(backend, await enqueueOne(backend, newTask(queue)))
      await after(backend, first.createdAt)
      const [second] = await enqueueIds(backend, [newTask(queue)])
      const secondTask = await mustGetTask(backend, second as string)
      await after(backend, secondTask.createdAt)
      const third = await mustGetTask(backend, await enqueueOne(backend, newTask(queue)))
      const since = await listIds(backend, { queue, since: secondTask.createdAt })
      t.same(since.ids, [second, third.id].sort(), 'since: the task created at `since` and later ones')
      exactTotal(t, since.total, 2, 'since')
      const until = await listIds(backend, { queue, until: secondTask.createdAt })
      t.same(until.ids, [first.id, second].sort(), 'until: the task created at `until` and earlier ones')
      exactTotal(t, until.total, 2, 'until')
      const both = await listIds(backend, { queue, since: secondTask.createdAt, until: secondTask.createdAt })
      t.same(both.ids, [second], 'since = until: exactly that millisecond')
      const ready = await listIds(backend, { queue, state: 'ready', since: secondTask.createdAt })
      t.same(ready.ids, [second, third.id].sort(), 'a pending state is judged on the creation time')
      exactTotal(t, ready.total, 2, 'ready since')
      const none = await listIds(backend, { queue, since: third.createdAt + 60_000 })
      t.same(none.ids, [], 'a window after every task: none')
      exactTotal(t, none.total, 0, 'empty window')
    })

    windowCase(t, ctx, 'final states are judged on the finish time by default; timeField picks the other', async t => {
      const queue = ctx.name('tw-finished')
      // created early, dead late; created late, dead early would need reordering: use two tasks
      const [early] = await enqueueIds(backend, [newTask(queue, { maxAttempts: 1 })])
      const earlyTask = await mustGetTask(backend, early as string)
      await after(backend, earlyTask.createdAt)
      const [oldDead] = await makeDead(backend, queue, 1)
      const oldDeadTask = await mustGetTask(backend, oldDead as string)
      await after(backend, oldDeadTask.finishedAt as number)
      // `early` was created before oldDead but dies after it
      const leased = await leaseId(backend, queue, early as string)
      await backend.failTasks([{ id: early as string, leaseToken: leased.leaseToken, error: { message: 'late' }, retryDelayMs: null }])
      const lateDead = await mustGetTask(backend, early as string)
      t.equal(lateDead.state, 'dead', 'the early task is dead now')
      const cut = lateDead.finishedAt as number
      t.ok(cut > (oldDeadTask.finishedAt as number), 'it died after the other')

      const recent = await listIds(backend, { queue, state: 'dead', since: cut })
      t.same(recent.ids, [early], 'dead since: judged on the finish time')
      exactTotal(t, recent.total, 1, 'dead since (finished)')
      const older = await listIds(backend, { queue, state: 'dead', until: cut - 1 })
      t.same(older.ids, [oldDead], 'dead until: judged on the finish time')
      const byCreation = await listIds(backend, { queue, state: 'dead', timeField: 'created', since: oldDeadTask.createdAt })
      t.same(byCreation.ids, [oldDead], 'timeField created: the later-created task only')
      exactTotal(t, byCreation.total, 1, 'dead since (created)')

      // across queues: the window alone selects among every dead task of this backend
      const anyQueue = await backend.listTasks({ state: 'dead', since: cut, limit: 1000, offset: 0 })
      t.ok(anyQueue.tasks.some(x => x.id === early) && !anyQueue.tasks.some(x => x.id === oldDead), 'across queues: the window still applies')
      t.ok(anyQueue.tasks.every(x => x.state === 'dead' && (x.finishedAt as number) >= cut), 'every listed task is dead and finished in the window')
      if (caps.taskCount !== null) t.equal(anyQueue.total, anyQueue.tasks.length, 'across queues: exact total')
      const ordered = anyQueue.tasks.map(x => x.finishedAt as number)
      t.same(ordered, [...ordered].sort((a, b) => b - a), 'most recently finished first, as without a window')
    })

    windowCase(t, ctx, 'a finish-time window leaves out unfinished tasks', async t => {
      const queue = ctx.name('tw-unfinished')
      const waiting = await mustGetTask(backend, await enqueueOne(backend, newTask(queue)))
      const [dead] = await makeDead(backend, queue, 1)
      const got = await listIds(backend, { queue, timeField: 'finished', since: waiting.createdAt - 60_000 })
      t.same(got.ids, [dead], 'only the finished task has a finish time')
      exactTotal(t, got.total, 1, 'finished window without a state')
      const created = await listIds(backend, { queue, since: waiting.createdAt - 60_000 })
      t.same(created.ids, [waiting.id, dead as string].sort(), 'no state: judged on the creation time, both listed')
    })

    windowCase(t, ctx, 'the window combines with handler and text filters', async t => {
      const queue = ctx.name('tw-combined')
      const [a] = await enqueueIds(backend, [newTask(queue, { handler: 'tw.a', payload: { tag: 'needle' } })])
      const aTask = await mustGetTask(backend, a as string)
      await after(backend, aTask.createdAt)
      const [b, c] = await enqueueIds(backend, [newTask(queue, { handler: 'tw.a', payload: { tag: 'needle' } }), newTask(queue, { handler: 'tw.b', payload: { tag: 'needle' } })])
      const bTask = await mustGetTask(backend, b as string)
      const byHandler = await listIds(backend, { queue, handler: 'tw.a', since: bTask.createdAt })
      t.same(byHandler.ids, [b], 'handler and window')
      exactTotal(t, byHandler.total, 1, 'handler and window')
      const byText = await listIds(backend, { queue, query: 'NEEDLE', since: bTask.createdAt })
      t.same(byText.ids, [b, c].sort(), 'text and window')
      exactTotal(t, byText.total, 2, 'text and window')
    })

    windowCase(t, ctx, 'filter selection of requeueTasks applies the window (the list predicate)', async t => {
      const queue = ctx.name('tw-requeue')
      const [older] = await makeDead(backend, queue, 1)
      const olderTask: Task = await mustGetTask(backend, older as string)
      await after(backend, olderTask.finishedAt as number)
      const [newer] = await makeDead(backend, queue, 1)
      const newerTask = await mustGetTask(backend, newer as string)
      const dry = await backend.requeueTasks({ filter: { state: 'dead', queue, since: newerTask.finishedAt as number, limit: 100 }, fromStates: ['dead'], dryRun: true })
      t.same(dry.requeued, [newer], 'dry run: only the task that died in the window')
      const done = await backend.requeueTasks({ filter: { state: 'dead', queue, until: olderTask.finishedAt as number, limit: 100 }, fromStates: ['dead'] })
      t.same(done.requeued, [older], 'until: only the older one moves')
      t.equal((await mustGetTask(backend, older as string)).state, 'ready', 'it is ready again')
      t.equal((await mustGetTask(backend, newer as string)).state, 'dead', 'the other stays dead')
    })
  }
}
