import type { Backend, FinalState, PruneRequest } from '../../types.ts'
import {
  conformanceCase, enqueueIds, enqueueOne, leaseId, makeDead, mustGetTask, newTask, waitFor,
  type ConformanceArea
} from '../support.ts'

/** Time between the old and the young tasks of a case, on the backend clock: the prune cutoff falls in its middle. */
const GENERATION_GAP_MS = 400

async function succeed (backend: Backend, queue: string, ids: string[]): Promise<void> {
  for (const id of ids) {
    const leased = await leaseId(backend, queue, id)
    await backend.completeTasks([{ id, leaseToken: leased.leaseToken }])
  }
}

async function latestFinish (backend: Backend, ids: string[], pick: (a: number, b: number) => number): Promise<number> {
  const times = await Promise.all(ids.map(async id => (await mustGetTask(backend, id)).finishedAt ?? 0))
  return times.reduce((a, b) => pick(a, b))
}

export const pruneArea: ConformanceArea = {
  name: 'prune',
  run (t, ctx) {
    const { backend, capabilities: caps } = ctx

    conformanceCase(t, 'pruneFinished deletes one final state older than its age, within its limit; young tasks stay; counts follow', async t => {
      const queue = ctx.name('finished')
      const key = `${queue}:once`
      // the old generation
      const oldSucceeded = await enqueueIds(backend, [newTask(queue, caps.idempotencyKeys ? { idempotencyKey: key } : {}), newTask(queue), newTask(queue)])
      await succeed(backend, queue, oldSucceeded)
      const oldCanceled = caps.cancel ? [await enqueueOne(backend, newTask(queue))] : []
      for (const id of oldCanceled) await backend.cancelTask(id)
      const oldDead = await makeDead(backend, queue, 2)
      const old = [...oldSucceeded, ...oldCanceled, ...oldDead]
      const oldEnd = await latestFinish(backend, old, Math.max)
      await waitFor(async () => (await backend.now()) > oldEnd + GENERATION_GAP_MS, { what: 'the backend clock to pass the old generation' })
      // the young generation, and tasks that are not finished
      const youngSucceeded = await enqueueIds(backend, [newTask(queue)])
      await succeed(backend, queue, youngSucceeded)
      const youngCanceled = caps.cancel ? [await enqueueOne(backend, newTask(queue))] : []
      for (const id of youngCanceled) await backend.cancelTask(id)
      const youngDead = await makeDead(backend, queue, 1)
      const young = [...youngSucceeded, ...youngCanceled, ...youngDead]
      const youngStart = await latestFinish(backend, young, Math.min)
      const ready = await enqueueOne(backend, newTask(queue))
      const running = await enqueueOne(backend, newTask(queue))
      await leaseId(backend, queue, running)

      const prune = async (state: FinalState, limit = 100, olderThanMs?: number): Promise<number> => {
        // the cutoff (backend now minus the age) falls between the two generations
        const age = olderThanMs ?? (await backend.now()) - Math.floor((oldEnd + youngStart) / 2)
        return await backend.pruneFinished({ state, finishedOlderThanMs: age, limit })
      }
      t.equal(await prune('succeeded', 100, 3_600_000), 0, 'nothing finished an hour ago')
      t.equal(await prune('succeeded', 2), 2, 'limit honoured: 2 removed')
      t.equal(await prune('succeeded'), 1, 'the rest of the old succeeded tasks on the next call')
      t.equal(await prune('succeeded'), 0, 'nothing old left to prune')
      t.equal(await prune('canceled'), oldCanceled.length, 'old canceled tasks')
      t.equal(await prune('dead'), 2, 'old dead tasks, when their state is asked for')
      for (const id of old) t.equal(await backend.getTask(id), null, `old ${id} pruned`)
      for (const id of young) t.ok((await backend.getTask(id)) !== null, `young ${id} stays`)
      t.equal((await mustGetTask(backend, ready)).state, 'ready', 'ready tasks stay')
      t.equal((await mustGetTask(backend, running)).state, 'processing', 'processing tasks stay')

      t.match((await backend.queueStats([queue]))[0], { succeeded: 1, canceled: youngCanceled.length, dead: 1, ready: 1, processing: 1 }, 'queue counts follow')
      const listed = await backend.listTasks({ queue, limit: 100, offset: 0 })
      t.same(listed.tasks.map(x => x.id).sort(), [...young, ready, running].sort(), 'the list holds what is left')
      if (caps.taskCount !== null) t.equal(listed.total, young.length + 2, 'the list total follows')
      const dlq = await backend.dlqStats()
      t.equal(dlq.byQueue[queue], 1, 'DLQ stats follow')
      if (caps.idempotencyKeys) {
        const [again] = await backend.enqueue([newTask(queue, { idempotencyKey: key })])
        t.equal(again?.created, true, 'the idempotency key of a pruned task is free again')
      }
    })

    conformanceCase(t, 'pruneFinished refuses a state that is not final', async t => {
      for (const state of ['ready', 'processing', 'retrying', 'nonsense']) {
        const req = { state, finishedOlderThanMs: 0, limit: 10 } as unknown as PruneRequest
        await t.rejects(backend.pruneFinished(req), { code: 'VALIDATION_FAILED' }, `state ${state}`)
      }
    })
  }
}
