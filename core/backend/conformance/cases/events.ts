import type { Backend, StoredEvent, Unsubscribe } from '../../types.ts'
import {
  conformanceCaseNeeding, newTask, waitFor, within,
  type ConformanceArea
} from '../support.ts'

/** Reads every event after `afterId`, page by page; answers them and the id to resume from. */
async function readAllAfter (backend: Backend, afterId: string | null, pageSize = 100): Promise<{ events: StoredEvent[], lastId: string | null }> {
  const events: StoredEvent[] = []
  let cursor = afterId
  for (;;) {
    const page = await backend.readEvents({ afterId: cursor, limit: pageSize })
    events.push(...page)
    if (page.length === 0) return { events, lastId: cursor }
    cursor = page[page.length - 1]?.id ?? cursor
  }
}

export const eventsArea: ConformanceArea = {
  name: 'events',
  run (t, ctx) {
    const { backend, peer } = ctx

    conformanceCaseNeeding(t, ctx, ['eventLog'], 'append then read: order kept, afterId resumes exactly after', async t => {
      const { lastId: start } = await readAllAfter(backend, null)
      const before = await backend.now()
      const stored = await backend.appendEvents([
        { type: 'task.enqueued', data: { n: 1 } },
        { type: 'queue.paused', data: { name: 'q', nested: [1, 2] } },
        { type: 'dlq.replayed', data: 'text' }
      ])
      const after = await backend.now()
      t.same(stored.map(e => [e.type, e.data]), [['task.enqueued', { n: 1 }], ['queue.paused', { name: 'q', nested: [1, 2] }], ['dlq.replayed', 'text']], 'answers the stored events in order')
      t.ok(stored.every(e => within(e.time, before, after)), 'times on the backend clock')
      t.equal(new Set(stored.map(e => e.id)).size, 3, 'distinct ids')
      // a backend may hold a page back while older writes are in flight (Postgres: any older
      // transaction in the cluster, such as another schema's migration): wait until reads reach it
      await waitFor(async () => (await readAllAfter(backend, start)).lastId === stored[2]?.id, { timeoutMs: 30_000, what: 'reads to reach the appended events' })
      const read = await backend.readEvents({ afterId: start, limit: 100 })
      t.same(read, stored, 'reading after the previous end gives exactly them')
      t.same(await backend.readEvents({ afterId: stored[0]?.id as string, limit: 100 }), stored.slice(1), 'afterId: exactly the later events')
      t.same(await backend.readEvents({ afterId: stored[0]?.id as string, limit: 1 }), stored.slice(1, 2), 'limit honoured')
      t.same(await backend.readEvents({ afterId: stored[2]?.id as string, limit: 100 }), [], 'after the last: nothing')
      t.same(await backend.appendEvents([]), [], 'an empty append answers []')
      const fromOldest = await backend.readEvents({ afterId: null, limit: 1000 })
      t.same(fromOldest.slice(-3), stored, 'afterId null reads from the oldest retained')
    })

    conformanceCaseNeeding(t, ctx, ['eventLog'], 'an append with { answer: false } stores its events alike (the answer may be [])', async t => {
      const { lastId: start } = await readAllAfter(backend, null)
      const type = ctx.name('conformance.quiet')
      const answer = await backend.appendEvents([{ type, data: { n: 1 } }, { type, data: [1, 'two'] }], { answer: false })
      t.ok(Array.isArray(answer), 'answers an array')
      const stored = await backend.appendEvents([{ type, data: 'marker' }])
      await waitFor(async () => (await readAllAfter(backend, start)).lastId === stored[0]?.id, { timeoutMs: 30_000, what: 'reads to reach the appended events' })
      const read = (await readAllAfter(backend, start)).events.filter(e => e.type === type)
      t.same(read.map(e => e.data), [{ n: 1 }, [1, 'two'], 'marker'], 'stored in order, before a later append')
      if (answer.length > 0) t.same(answer, read.slice(0, 2), 'a backend that answers anyway answers the stored events')
      await t.rejects(backend.appendEvents([{ type, data: 1 }], { answer: 'no' } as never), { code: 'VALIDATION_FAILED' }, 'a malformed option is refused')
    })

    conformanceCaseNeeding(t, ctx, ['eventLog'], 'event ids: a malformed afterId is VALIDATION_FAILED; "0" (from the oldest) is never issued', async t => {
      // Core relies on both: it answers a bad Last-Event-ID with 400 by asking the backend
      // to read after it, and maps the documented "0" to afterId null (the oldest retained).
      for (const bad of ['not-an-id', '-1', 'x'.repeat(40)]) {
        await t.rejects(backend.readEvents({ afterId: bad, limit: 1 }), { code: 'VALIDATION_FAILED' }, `afterId ${JSON.stringify(bad.slice(0, 12))} is refused`)
      }
      const stored = await backend.appendEvents(Array.from({ length: 3 }, (_, i) => ({ type: 'conformance.id', data: i })))
      t.notOk(stored.some(e => e.id === '0'), 'no event gets the reserved id "0"')
      const oldest = await backend.readEvents({ afterId: null, limit: 1 })
      t.not(oldest[0]?.id, '0', 'the oldest retained event is not "0" either')
    })

    conformanceCaseNeeding(t, ctx, ['eventLog'], 'newest first: readEventsNewestFirst pages back exactly where readEvents pages forward', async t => {
      const readBack = backend.readEventsNewestFirst?.bind(backend)
      if (readBack === undefined) {
        t.pass('readEventsNewestFirst is not offered (the timeline reads forward only)')
        return
      }
      const type = ctx.name('conformance.back')
      // several appends of 1-3 events (backends may store an append as one entry), from both nodes
      const stored: StoredEvent[] = []
      for (let i = 0; i < 5; i++) stored.push(...await (i % 2 === 0 ? backend : peer).appendEvents(Array.from({ length: 1 + (i % 3) }, (_, j) => ({ type, data: { i, j } }))))
      const newest = await waitFor(async () => {
        const page = await readBack({ beforeId: null, limit: 100 })
        return page.some(e => e.id === stored[stored.length - 1]?.id) ? page : null
      }, { what: 'the newest append readable backwards' })
      const mineNewest = newest.filter(e => e.type === type)
      t.same(mineNewest, [...stored].reverse(), 'from the newest: every event, newest first, as stored')
      // page back two at a time from the newest of ours
      const paged: StoredEvent[] = []
      let cursor: string = stored[stored.length - 1]?.id as string
      for (let pages = 0; pages < 20 && paged.length < stored.length - 1; pages++) {
        const page = await readBack({ beforeId: cursor, limit: 2 })
        t.ok(page.length <= 2, 'limit honoured')
        if (page.length === 0) break
        paged.push(...page.filter(e => e.type === type))
        cursor = page[page.length - 1]?.id as string
      }
      t.same(paged, [...stored].reverse().slice(1), 'beforeId: exactly the older events, in reverse order, across appends')
      for (let k = 1; k < stored.length; k++) {
        const back = await peer.readEventsNewestFirst?.({ beforeId: stored[k]?.id as string, limit: 1 })
        const forward = await peer.readEvents({ afterId: stored[k - 1]?.id as string, limit: 1 })
        t.same([back?.[0]?.id, forward[0]?.id], [stored[k - 1]?.id, stored[k]?.id], `backward before #${k} and forward after #${k - 1} meet`)
      }
      t.same(await readBack({ beforeId: stored[0]?.id as string, limit: 0 }), [], 'limit 0: nothing')
      for (const bad of ['not-an-id', '-1', 'x'.repeat(40)]) {
        await t.rejects(readBack({ beforeId: bad, limit: 1 }), { code: 'VALIDATION_FAILED' }, `beforeId ${JSON.stringify(bad.slice(0, 12))} is refused`)
      }
    })

    conformanceCaseNeeding(t, ctx, ['eventLog'], 'concurrent appenders and a tailing reader: nothing missed, nothing twice', async t => {
      const writers = 8
      const appendsPerWriter = 15
      const { lastId: start } = await readAllAfter(backend, null)
      const seen: StoredEvent[] = []
      let writing = true
      const reader = (async () => {
        let cursor = start
        while (writing) {
          const { events, lastId } = await readAllAfter(peer, cursor, 7)
          seen.push(...events)
          cursor = lastId
        }
        seen.push(...(await readAllAfter(peer, cursor, 7)).events)
      })()
      try {
        await Promise.all(Array.from({ length: writers }, async (_, w) => {
          const client = w % 2 === 0 ? backend : peer
          for (let i = 0; i < appendsPerWriter; i++) {
            const batch = Array.from({ length: 1 + (i % 3) }, (_, j) => ({ type: 'conformance.tick', data: { w, i, j } }))
            await client.appendEvents(batch)
          }
        }))
      } finally {
        writing = false
        await reader
      }
      const expected = writers * Array.from({ length: appendsPerWriter }, (_, i) => 1 + (i % 3)).reduce((a, b) => a + b, 0)
      const keys = seen.map(e => JSON.stringify(e.data))
      t.equal(new Set(seen.map(e => e.id)).size, seen.length, 'no event read twice')
      t.equal(seen.length, expected, `the tailing reader saw all ${expected} events`)
      t.equal(new Set(keys).size, expected, 'each appended event exactly once')
      for (let w = 0; w < writers; w++) {
        const mine = seen.map(e => e.data as { w: number, i: number, j: number }).filter(d => d.w === w).map(d => d.i * 10 + d.j)
        t.same(mine, [...mine].sort((a, b) => a - b), `writer ${w}'s events are read in the order it appended them`)
      }
    })

    conformanceCaseNeeding(t, ctx, ['eventLog', 'enqueueEvents'], 'enqueue with events: one per created task, with its id, none for a matched key', async t => {
      const queue = ctx.name('events-enqueue')
      const key = ctx.name('events-key')
      const { lastId: start } = await readAllAfter(backend, null)
      const results = await backend.enqueue(
        [newTask(queue, { handler: 'a' }), newTask(queue, { handler: 'b', idempotencyKey: key }), newTask(queue, { handler: 'c', delayMs: 60_000 })],
        { type: 'task.enqueued', data: [{ queue, handler: 'a' }, { queue, handler: 'b', n: 2 }, {}] })
      const again = await backend.enqueue([newTask(queue, { handler: 'b', idempotencyKey: key })], { type: 'task.enqueued', data: [{ queue, handler: 'b' }] })
      t.same(again, [{ id: results[1]?.id, created: false }], 'the key matched the stored task')
      const mine = (await readAllAfter(peer, start)).events.filter(e => e.type === 'task.enqueued' && results.some(r => r.id === (e.data as { id?: string }).id))
      t.same(mine.map(e => e.data), [
        { id: results[0]?.id, queue, handler: 'a' },
        { id: results[1]?.id, queue, handler: 'b', n: 2 },
        { id: results[2]?.id }
      ], 'the id first, then the data as given, in request order; nothing for the matched key')
      await t.rejects(backend.enqueue([newTask(queue)], { type: 'task.enqueued', data: [] }), { code: 'VALIDATION_FAILED' }, 'one entry of data per task')
      await t.rejects(backend.enqueue([newTask(queue)], { type: 'task.enqueued', data: [{ id: 'x' }] }), { code: 'VALIDATION_FAILED' }, 'the id is the backend\'s to fill in')
    })

    conformanceCaseNeeding(t, ctx, ['eventLog', 'enqueueEvents'], 'causal order: a task\'s enqueued event precedes what another node logs after leasing it', async t => {
      // The enqueued events are appended with the tasks; a peer that leases a task and
      // only then appends its start must find its event after the enqueue's in the log,
      // for every task, while enqueues and leases overlap.
      const queue = ctx.name('events-causal')
      const { lastId: start } = await readAllAfter(backend, null)
      const batches = 12
      const perBatch = 5
      const enqueued = new Set<string>()
      let producing = true
      const producer = (async () => {
        try {
          for (let b = 0; b < batches; b++) {
            const tasks = Array.from({ length: perBatch }, () => newTask(queue, { handler: 'causal' }))
            const results = await backend.enqueue(tasks, { type: 'task.enqueued', data: tasks.map(() => ({ queue, handler: 'causal' })) })
            for (const r of results) enqueued.add(r.id)
          }
        } finally {
          producing = false
        }
      })()
      const started: string[] = []
      const consumer = (async () => {
        while (producing || started.length < enqueued.size) {
          const leased = await peer.leaseTasks({ workerId: ctx.name('causal-worker'), queues: [queue], limit: 4, leaseMs: 30_000 })
          if (leased.length === 0) { await new Promise(resolve => setTimeout(resolve, 2)); continue }
          await peer.appendEvents(leased.map(task => ({ type: 'task.started', data: { id: task.id } })))
          started.push(...leased.map(task => task.id))
        }
      })()
      await Promise.all([producer, consumer])
      t.equal(started.length, batches * perBatch, 'the peer leased every task')
      const events = (await waitFor(async () => {
        const read = (await readAllAfter(peer, start)).events
        return read.filter(e => e.type === 'task.started').length >= started.length ? read : null
      }, { what: 'every event readable' }))
      const position = new Map<string, number>()
      const disorder: string[] = []
      events.forEach((e, i) => {
        const id = (e.data as { id?: string } | null)?.id
        if (id === undefined || !enqueued.has(id)) return
        if (e.type === 'task.enqueued') position.set(id, i)
        else if (e.type === 'task.started' && !((position.get(id) ?? Infinity) < i)) disorder.push(id)
      })
      t.equal(position.size, enqueued.size, 'one enqueued event per task')
      t.same(disorder, [], 'every task\'s enqueued event is read before its started event')
    })

    conformanceCaseNeeding(t, ctx, ['eventLog'], 'subscribeEvents fires after an append, from any node, until unsubscribed', async t => {
      if (backend.subscribeEvents === undefined) {
        t.pass('subscribeEvents is not offered (readers poll)')
        return
      }
      let calls = 0
      let unsubscribe: Unsubscribe
      try {
        unsubscribe = await backend.subscribeEvents(() => { calls++ })
      } catch (err) {
        // no capability names event notifications; a backend without any notifications may refuse, loudly
        if (!ctx.capabilities.workNotifications && (err as { code?: unknown }).code === 'UNSUPPORTED_BY_BACKEND') {
          t.pass('refused with UNSUPPORTED_BY_BACKEND by a backend without notifications (readers poll)')
          return
        }
        throw err
      }
      try {
        await backend.appendEvents([{ type: 'conformance.notify', data: 1 }])
        await waitFor(() => calls > 0, { timeoutMs: 5_000, what: 'the listener after a local append' })
        t.pass('fires after a local append')
        if (ctx.hasPeer) {
          const seen = calls
          await peer.appendEvents([{ type: 'conformance.notify', data: 2 }])
          await waitFor(() => calls > seen, { timeoutMs: 5_000, what: 'the listener after another node appended' })
          t.pass('fires after another node appends')
        }
      } finally {
        await unsubscribe()
      }
      const after = calls
      await backend.appendEvents([{ type: 'conformance.notify', data: 3 }])
      // a round trip through the backend gives a notification time to arrive if it (wrongly) would
      await backend.readEvents({ afterId: null, limit: 1 })
      await backend.now()
      t.equal(calls, after, 'no calls after unsubscribe')
    })
  }
}
