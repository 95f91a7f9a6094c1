import type { Test } from 'tap'
import type { Backend, ListTasksRequest, Task, TaskFilter } from '../../types.ts'
import { conformanceCase, enqueueIds, makeDead, newTask, refused, type ConformanceArea, type ConformanceContext } from '../support.ts'

// Keyset paging of listTasks (ListTasksRequest.after / TaskPage.next): walking a list
// page by page visits every task that stays in it exactly once, in the list's order,
// even while tasks are added between pages; a position the backend cannot read is
// refused naming `cursor`.

/** every page of a filter, `between` running after each page; stops at a page without `next` */
async function walk (backend: Backend, filter: TaskFilter, limit: number, between: (page: number) => Promise<void>): Promise<{ tasks: Task[], pages: number }> {
  const tasks: Task[] = []
  let after: string | undefined
  for (let page = 0; page < 200; page++) {
    const req: ListTasksRequest = { ...filter, limit, offset: 0 }
    if (after !== undefined) req.after = after
    const answer = await backend.listTasks(req)
    tasks.push(...answer.tasks)
    if (answer.tasks.length > limit) throw new Error(`page ${page} holds ${answer.tasks.length} tasks, more than the limit ${limit}`)
    if (answer.next === undefined) return { tasks, pages: page + 1 }
    after = answer.next
    await between(page)
  }
  throw new Error('paging did not end after 200 pages')
}

/** each of `expected` is visited once, in the order they had in one full listing taken before paging */
function visitsEachOnceInOrder (t: Test, visited: Task[], expected: string[], what: string): void {
  const ids = visited.map(x => x.id)
  t.equal(new Set(ids).size, ids.length, `${what}: no task is listed twice`)
  const wanted = new Set(expected)
  t.same(ids.filter(id => wanted.has(id)), expected, `${what}: every task present before paging is listed once, in list order`)
}

function pagingCase (t: Test, ctx: ConformanceContext, fields: Array<keyof TaskFilter>, name: string, fn: (t: Test) => Promise<void>): void {
  const missing = fields.filter(f => !ctx.capabilities.taskFilters.includes(f))
  if (missing.length > 0) t.test(name, { skip: `backend does not filter by ${missing.join(', ')}` }, async () => {})
  else conformanceCase(t, name, fn)
}

export const keysetPagingArea: ConformanceArea = {
  name: 'keyset-paging',
  run (t, ctx) {
    const { backend, capabilities: caps } = ctx

    pagingCase(t, ctx, ['queue'], 'newest first: small pages visit every task once while tasks are enqueued between pages', async t => {
      const queue = ctx.name('newest')
      await enqueueIds(backend, Array.from({ length: 23 }, (_, i) => newTask(queue, { payload: { i } })))
      const before = (await backend.listTasks({ queue, limit: 100, offset: 0 })).tasks.map(x => x.id)
      t.equal(before.length, 23)
      const added: string[] = []
      const { tasks, pages } = await walk(backend, { queue }, 4, async page => { added.push(...await enqueueIds(backend, [newTask(queue, { payload: { added: page } })])) })
      t.equal(pages, 6, '23 tasks in pages of 4: six pages, the last one without next')
      visitsEachOnceInOrder(t, tasks, before, 'newest first')
      t.ok(tasks.every(x => x.queue === queue), 'every listed task matches the filter')
    })

    pagingCase(t, ctx, ['queue', 'state'], 'run order (ready, with priorities): small pages visit every task once while tasks are enqueued between pages', async t => {
      const queue = ctx.name('ready')
      const priority = (i: number): number => caps.priorities ? [0, 5, -3][i % 3] as number : 0
      await enqueueIds(backend, Array.from({ length: 20 }, (_, i) => newTask(queue, { payload: { i }, priority: priority(i) })))
      const before = (await backend.listTasks({ queue, state: 'ready', limit: 100, offset: 0 })).tasks.map(x => x.id)
      t.equal(before.length, 20)
      const added: string[] = []
      const { tasks } = await walk(backend, { queue, state: 'ready' }, 3, async page => {
        // one task ahead of everything (higher priority, when the backend has them) and one behind
        added.push(...await enqueueIds(backend, [newTask(queue, { priority: caps.priorities ? 9 : 0, payload: { ahead: page } }), newTask(queue, { priority: caps.priorities ? -9 : 0, payload: { behind: page } })]))
      })
      visitsEachOnceInOrder(t, tasks, before, 'ready')
      t.ok(tasks.every(x => x.state === 'ready' && x.queue === queue), 'every listed task is a ready task of the queue')
      if (caps.priorities) {
        const behind = new Set(tasks.filter(x => (x.payload as { behind?: number }).behind !== undefined).map(x => x.id))
        t.ok(behind.size > 0, 'tasks enqueued behind the position are reached on later pages')
      }
    })

    pagingCase(t, ctx, ['queue', 'state'], 'latest finished first (dead): small pages visit every task once while tasks fail between pages', async t => {
      const queue = ctx.name('dead')
      await makeDead(backend, queue, 9)
      const before = (await backend.listTasks({ queue, state: 'dead', limit: 100, offset: 0 })).tasks.map(x => x.id)
      t.equal(before.length, 9)
      const { tasks } = await walk(backend, { queue, state: 'dead' }, 2, async () => { await makeDead(backend, queue, 1) })
      visitsEachOnceInOrder(t, tasks, before, 'dead')
      t.ok(tasks.every(x => x.state === 'dead'), 'every listed task is dead')
    })

    pagingCase(t, ctx, ['queue', 'state', 'handler', 'query'], 'combined filters: pages hold only matching tasks and reach every one of them', async t => {
      const queue = ctx.name('filtered')
      const tasks = Array.from({ length: 30 }, (_, i) => newTask(queue, { handler: i % 3 === 0 ? 'paging.match' : 'paging.other', payload: { note: i % 2 === 0 ? 'Needle' : 'hay', i } }))
      await enqueueIds(backend, tasks)
      const filter: TaskFilter = { queue, state: 'ready', handler: 'paging.match', query: 'needle' }
      const before = (await backend.listTasks({ ...filter, limit: 100, offset: 0 })).tasks.map(x => x.id)
      t.equal(before.length, 5, 'i divisible by 6: five matches')
      const { tasks: visited } = await walk(backend, filter, 2, async () => {})
      visitsEachOnceInOrder(t, visited, before, 'filtered')
      t.equal(visited.length, 5, 'nothing else')
    })

    conformanceCase(t, 'the first page by offset carries next, and the pages after it continue the order', async t => {
      const queue = ctx.name('mixed')
      await enqueueIds(backend, Array.from({ length: 7 }, (_, i) => newTask(queue, { payload: { i } })))
      const all = (await backend.listTasks({ queue, limit: 100, offset: 0 })).tasks.map(x => x.id)
      const first = await backend.listTasks({ queue, limit: 5, offset: 0 })
      t.ok(first.next !== undefined, 'a full page with more to come carries next')
      const second = await backend.listTasks({ queue, limit: 5, offset: 0, after: first.next as string })
      t.same([...first.tasks, ...second.tasks].map(x => x.id), all, 'the second page continues the first')
      t.equal(second.next, undefined, 'the last page has no next')
      t.equal((await backend.listTasks({ queue, limit: 7, offset: 0 })).next, undefined, 'a page holding exactly the rest has no next')
    })

    conformanceCase(t, 'a position the backend cannot read is refused naming cursor; after with an offset is refused', async t => {
      const queue = ctx.name('bad')
      await enqueueIds(backend, [newTask(queue), newTask(queue)])
      await refused(t, 'garbage position', async () => await backend.listTasks({ queue, limit: 1, offset: 0, after: 'not-a-position' }), 'cursor')
      const first = await backend.listTasks({ queue, limit: 1, offset: 0 })
      t.ok(first.next !== undefined, 'two tasks, pages of one: next')
      await refused(t, 'after with offset', async () => await backend.listTasks({ queue, limit: 1, offset: 1, after: first.next ?? 'x' }), 'offset')
    })
  }
}
