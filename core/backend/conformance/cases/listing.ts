import { MAX_LIST_LIMIT, type Task, type TaskFilter } from '../../types.ts'
import type { Test } from 'tap'
import {
  CASE_TIMEOUT_MS, conformanceCase, enqueueIds, enqueueOne, expectUnsupported, leaseId, makeDead, mustGetTask, newTask, waitFor,
  type ConformanceArea, type ConformanceContext
} from '../support.ts'

const FILTER_FIELDS: Array<keyof TaskFilter> = ['state', 'queue', 'handler', 'query', 'since', 'until', 'timeField', 'tenant', 'correlationId']

/** A listing case that needs some filter fields; skipped when the backend does not honour them. */
function listingCase (t: Test, ctx: ConformanceContext, fields: Array<keyof TaskFilter>, name: string, fn: (t: Test) => Promise<void>): void {
  const missing = fields.filter(f => !ctx.capabilities.taskFilters.includes(f))
  if (missing.length > 0) t.test(name, { skip: `backend does not filter by ${missing.join(', ')}` }, async () => {})
  else t.test(name, { timeout: CASE_TIMEOUT_MS }, fn)
}

export const listingArea: ConformanceArea = {
  name: 'listing',
  run (t, ctx) {
    const { backend, capabilities: caps } = ctx

    conformanceCase(t, 'filter fields the backend does not declare are refused, not ignored', async t => {
      const unsupported = FILTER_FIELDS.filter(f => !caps.taskFilters.includes(f))
      t.ok(caps.taskFilters.every(f => FILTER_FIELDS.includes(f)), 'taskFilters names only TaskFilter fields')
      const values: Required<TaskFilter> = { state: 'ready', queue: 'q', handler: 'h', query: 'x', since: 0, until: 1, timeField: 'created', tenant: 't', correlationId: 'c' }
      for (const field of unsupported) {
        await expectUnsupported(t, () => backend.listTasks({ [field]: values[field], limit: 10, offset: 0 }), `listTasks by ${field}`)
      }
      if (unsupported.length === 0) t.pass('every filter field is honoured')
    })

    listingCase(t, ctx, ['state', 'queue'], 'filter by state and queue', async t => {
      const queue = ctx.name('by-state')
      const other = ctx.name('by-state-other')
      const ready = await enqueueIds(backend, [newTask(queue), newTask(queue), newTask(queue)])
      const running = await enqueueOne(backend, newTask(queue))
      await leaseId(backend, queue, running)
      const [dead] = await makeDead(backend, queue, 1)
      await enqueueIds(backend, [newTask(other), newTask(other)])
      const ids = async (filter: TaskFilter): Promise<string[]> => (await backend.listTasks({ ...filter, limit: 100, offset: 0 })).tasks.map(x => x.id).sort()
      t.same(await ids({ queue, state: 'ready' }), [...ready].sort(), 'ready of the queue')
      t.same(await ids({ queue, state: 'processing' }), [running], 'processing of the queue')
      t.same(await ids({ queue, state: 'dead' }), [dead], 'dead of the queue')
      t.same(await ids({ queue }), [...ready, running, dead as string].sort(), 'every state of the queue')
      t.equal((await ids({ queue: other })).length, 2, 'the other queue is separate')
      const page = await backend.listTasks({ queue, state: 'ready', limit: 100, offset: 0 })
      t.ok(page.tasks.every(x => x.state === 'ready' && x.queue === queue), 'every listed task matches')
    })

    listingCase(t, ctx, ['queue', 'handler'], 'filter by handler', async t => {
      const queue = ctx.name('by-handler')
      const [one] = await enqueueIds(backend, [newTask(queue, { handler: 'mail.send' }), newTask(queue, { handler: 'mail.sendLater' }), newTask(queue, { handler: 'img.resize' })])
      const page = await backend.listTasks({ queue, handler: 'mail.send', limit: 100, offset: 0 })
      t.same(page.tasks.map(x => x.id), [one], 'exact handler match only')
    })

    listingCase(t, ctx, ['queue', 'query'], 'query: case-insensitive substring over id, handler, payload text and last error', async t => {
      const queue = ctx.name('by-query')
      const [byPayload, byHandler, plain] = await enqueueIds(backend, [
        newTask(queue, { payload: { note: 'Find-The-Needle here' } }),
        newTask(queue, { handler: 'report.QuarterlySummary' }),
        newTask(queue, { payload: { note: 'nothing to see' } })
      ]) as [string, string, string]
      const [byError] = await makeDead(backend, queue, 1, { payload: { note: 'x' } }) as [string]
      const failed = await mustGetTask(backend, byError)
      const ids = async (query: string): Promise<string[]> => (await backend.listTasks({ queue, query, limit: 100, offset: 0 })).tasks.map(x => x.id).sort()
      t.same(await ids('the-needle'), [byPayload], 'payload text, other case')
      t.same(await ids('QUARTERLYsummary'), [byHandler], 'handler, other case')
      t.same(await ids((failed.lastError ?? '').toUpperCase()), [byError], 'last error, other case')
      t.ok((await ids(plain)).includes(plain), 'the id itself')
      if (plain.length > 6) t.ok((await ids(plain.slice(2, -2).toUpperCase())).includes(plain), 'a piece of the id, other case')
      t.same(await ids('no such text anywhere'), [], 'no match: empty')
      t.same(await ids('%'), [], 'LIKE wildcards are literal')
      t.same(await ids('need_e'), [], 'LIKE wildcards are literal (_)')
    })

    listingCase(t, ctx, ['queue', 'state'], 'pagination: limit/offset pages do not overlap; order by state', async t => {
      const queue = ctx.name('pages')
      const ids: string[] = []
      for (let i = 0; i < 25; i++) ids.push(await enqueueOne(backend, newTask(queue, { payload: { i } })))
      const pages = []
      for (let offset = 0; offset < 30; offset += 10) pages.push(await backend.listTasks({ queue, state: 'ready', limit: 10, offset }))
      t.same(pages.map(p => p.tasks.length), [10, 10, 5], 'page sizes')
      t.same(pages.flatMap(p => p.tasks.map(x => x.id)), ids, 'ready tasks are listed in run order (FIFO), pages continue each other')
      for (const page of pages) t.equal(page.total, caps.taskCount !== null ? 25 : null, 'total is the match count (or null without taskCount)')
      const newest: Task[] = []
      for (let offset = 0; offset < 30; offset += 10) newest.push(...(await backend.listTasks({ queue, limit: 10, offset })).tasks)
      t.equal(new Set(newest.map(x => x.id)).size, 25, 'no state: 25 distinct tasks across pages')
      t.ok(newest.every((x, i) => i === 0 || (newest[i - 1]?.createdAt ?? 0) >= x.createdAt), 'no state: newest first')
      t.same((await backend.listTasks({ queue, limit: 10, offset: 100 })).tasks, [], 'offset past the end: empty')
    })

    listingCase(t, ctx, ['queue', 'state'], 'order: scheduled by runAt, dead most recently finished first', async t => {
      const queue = ctx.name('order')
      if (caps.delayedTasks) {
        const [late, early, middle] = await enqueueIds(backend, [30_000, 10_000, 20_000].map(delayMs => newTask(queue, { delayMs }))) as [string, string, string]
        const scheduled = await backend.listTasks({ queue, state: 'scheduled', limit: 10, offset: 0 })
        t.same(scheduled.tasks.map(x => x.id), [early, middle, late], 'scheduled: the order they will run')
      }
      const dead: string[] = []
      for (let i = 0; i < 3; i++) {
        const [id] = await makeDead(backend, queue, 1) as [string]
        const finishedAt = (await mustGetTask(backend, id)).finishedAt ?? 0
        dead.push(id)
        await waitFor(async () => (await backend.now()) > finishedAt, { what: 'the backend clock to move past the last failure' })
      }
      const listed = await backend.listTasks({ queue, state: 'dead', limit: 10, offset: 0 })
      t.same(listed.tasks.map(x => x.id), [...dead].reverse(), 'dead: most recently finished first')
    })

    listingCase(t, ctx, ['queue', 'state'], 'scheduled and retrying pages hold their own state whatever runs first', async t => {
      if (!caps.delayedTasks) { t.pass('no delayed tasks: nothing is scheduled'); return }
      const queue = ctx.name('waiting')
      const retryingId = await enqueueOne(backend, newTask(queue))
      const leased = await leaseId(backend, queue, retryingId)
      t.same(await backend.failTasks([{ id: retryingId, leaseToken: leased.leaseToken, error: { message: 'again later' }, retryDelayMs: 20_000 }]), ['retrying'])
      // runs after the retry is due: the waiting structure holds the retry first
      const scheduledId = await enqueueOne(backend, newTask(queue, { delayMs: 60_000 }))
      for (const offset of [0, 1]) {
        const scheduled = await backend.listTasks({ queue, state: 'scheduled', limit: 1, offset })
        t.same(scheduled.tasks.map(x => x.id), offset === 0 ? [scheduledId] : [], `scheduled, limit 1, offset ${offset}`)
        if (caps.taskCount !== null) t.equal(scheduled.total, 1, 'scheduled total')
      }
      const retrying = await backend.listTasks({ queue, state: 'retrying', limit: 1, offset: 0 })
      t.same(retrying.tasks.map(x => x.id), [retryingId], 'retrying, limit 1')
      if (caps.taskCount !== null) t.equal(retrying.total, 1, 'retrying total')
      const anyQueue = await backend.listTasks({ state: 'scheduled', limit: 1000, offset: 0 })
      t.ok(anyQueue.tasks.some(x => x.id === scheduledId) && anyQueue.tasks.every(x => x.state === 'scheduled'), 'across queues: scheduled only')
    })

    /** the most tasks a case enqueues to pass a declared counting bound */
    const COUNT_BOUND_EXERCISED = 20_000
    listingCase(t, ctx, ['queue', 'handler', 'query'], 'totals of handler and query lists past the declared bound: null, never a guess', async t => {
      const totals = caps.taskCount
      if (totals === null) { t.pass('no totals declared'); return }
      if (totals.exact.includes('handler') && totals.exact.includes('query')) { t.pass('handler and query totals are declared exact (checked by the capabilities area)'); return }
      if (totals.examineUpTo > COUNT_BOUND_EXERCISED) { t.pass(`bound ${totals.examineUpTo} is past what this case enqueues`); return }
      const queue = ctx.name('past-bound')
      const matching = totals.examineUpTo + 1
      for (let from = 0; from < matching; from += 1000) {
        await enqueueIds(backend, Array.from({ length: Math.min(1000, matching - from) }, (_, i) => newTask(queue, { handler: 'bound.many', payload: { n: from + i, note: 'many' } })))
      }
      for (const filter of [{ handler: 'bound.many' }, { query: 'MANY' }] as TaskFilter[]) {
        const field = Object.keys(filter)[0] as keyof TaskFilter
        const page = await backend.listTasks({ queue, ...filter, limit: 10, offset: 0 })
        t.equal(page.tasks.length, 10, `by ${field}: the page is full`)
        t.ok(page.tasks.every(x => x.handler === 'bound.many'), `by ${field}: every listed task matches`)
        if (totals.exact.includes(field)) t.equal(page.total, matching, `by ${field}: exact (declared)`)
        else t.equal(page.total, null, `by ${field}: ${matching} match, past the bound of ${totals.examineUpTo}: null`)
      }
      t.equal((await backend.listTasks({ queue, limit: 1, offset: 0 })).total, matching, 'by queue only: still exact')
    })

    listingCase(t, ctx, ['queue'], `limit is clamped to MAX_LIST_LIMIT (${MAX_LIST_LIMIT})`, async t => {
      const queue = ctx.name('clamp')
      for (let chunk = 0; chunk < 3; chunk++) await enqueueIds(backend, Array.from({ length: 400 }, (_, i) => newTask(queue, { payload: { i: chunk * 400 + i } })))
      const page = await backend.listTasks({ queue, limit: MAX_LIST_LIMIT * 5, offset: 0 })
      t.equal(page.tasks.length, MAX_LIST_LIMIT, 'at most MAX_LIST_LIMIT tasks')
      if (caps.taskCount !== null) t.equal(page.total, 1200, 'total still counts every match')
      const rest = await backend.listTasks({ queue, limit: MAX_LIST_LIMIT * 5, offset: MAX_LIST_LIMIT })
      t.equal(rest.tasks.length, 200, 'the remainder on the next page')
    })
  }
}
