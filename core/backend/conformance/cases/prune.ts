import {
  conformanceCase, enqueueIds, enqueueOne, leaseId, makeDead, mustGetTask, newTask, waitFor,
  type ConformanceArea
} from '../support.ts'

export const pruneArea: ConformanceArea = {
  name: 'prune',
  run (t, ctx) {
    const { backend, capabilities: caps } = ctx

    conformanceCase(t, 'pruneFinished removes old succeeded/canceled tasks only, within its limit', async t => {
      const queue = ctx.name('finished')
      const succeeded = await enqueueIds(backend, [newTask(queue), newTask(queue), newTask(queue)])
      for (const id of succeeded) {
        const leased = await leaseId(backend, queue, id)
        await backend.completeTasks([{ id, leaseToken: leased.leaseToken }])
      }
      const canceled = caps.cancel ? [await enqueueOne(backend, newTask(queue))] : []
      for (const id of canceled) await backend.cancelTask(id)
      const [dead] = await makeDead(backend, queue, 1) as [string]
      const ready = await enqueueOne(backend, newTask(queue))
      const running = await enqueueOne(backend, newTask(queue))
      await leaseId(backend, queue, running)
      const finished = [...succeeded, ...canceled]

      t.equal(await backend.pruneFinished({ finishedOlderThanMs: 3_600_000, limit: 100 }), 0, 'nothing finished an hour ago')
      const lastFinish = Math.max(...await Promise.all(finished.map(async id => (await mustGetTask(backend, id)).finishedAt ?? 0)))
      await waitFor(async () => (await backend.now()) > lastFinish + 10, { what: 'the backend clock to pass the last finish' })

      t.equal(await backend.pruneFinished({ finishedOlderThanMs: 0, limit: 2 }), 2, 'limit honoured: 2 removed')
      t.equal(await backend.pruneFinished({ finishedOlderThanMs: 0, limit: 100 }), finished.length - 2, 'the rest removed on the next call')
      t.equal(await backend.pruneFinished({ finishedOlderThanMs: 0, limit: 100 }), 0, 'nothing left to prune')
      for (const id of finished) t.equal(await backend.getTask(id), null, `${id} pruned`)
      t.equal((await mustGetTask(backend, dead)).state, 'dead', 'dead tasks stay (they belong to the DLQ)')
      t.equal((await mustGetTask(backend, ready)).state, 'ready', 'ready tasks stay')
      t.equal((await mustGetTask(backend, running)).state, 'processing', 'processing tasks stay')
      t.match((await backend.queueStats([queue]))[0], { succeeded: 0, canceled: 0, dead: 1, ready: 1, processing: 1 }, 'counts follow')
    })
  }
}
