import type { AuditInput } from '../../types.ts'
import {
  conformanceCaseNeeding, waitFor, within,
  type ConformanceArea
} from '../support.ts'

function auditInput (action: string, target: string, overrides: Partial<AuditInput> = {}): AuditInput {
  return { action, target, actor: 'CN=operator', requestId: `req-${action}-${target}`, params: { target, n: 1 }, outcome: 'ok', ...overrides }
}

export const auditArea: ConformanceArea = {
  name: 'audit',
  run (t, ctx) {
    const { backend } = ctx

    conformanceCaseNeeding(t, ctx, ['audit'], 'append returns the stored event; list is newest first', async t => {
      const before = await backend.now()
      const first = await backend.appendAudit(auditInput('queue.pause', 'q1'))
      const second = await backend.appendAudit(auditInput('queue.resume', 'q1', { outcome: 'error', error: 'nope' }))
      const third = await backend.appendAudit(auditInput('dlq.replay', 'ids', { params: { ids: ['a', 'b'], nested: { deep: true } } }))
      const after = await backend.now()
      t.match(first, { action: 'queue.pause', target: 'q1', actor: 'CN=operator', requestId: 'req-queue.pause-q1', outcome: 'ok' })
      t.same(third.params, { ids: ['a', 'b'], nested: { deep: true } }, 'params round-trip')
      t.equal(second.error, 'nope')
      t.ok(within(first.time, before, after), 'time on the backend clock')
      t.equal(new Set([first.id, second.id, third.id]).size, 3, 'distinct ids')
      const listed = await backend.listAudit({ limit: 3 })
      t.same(listed.map(e => e.id), [third.id, second.id, first.id], 'newest first')
      t.same(listed[1], second, 'listed events equal the appended ones')
      t.equal((await backend.listAudit({ limit: 2 })).length, 2, 'limit honoured')
    })

    conformanceCaseNeeding(t, ctx, ['audit'], 'filters: action, target, since, beforeId paging', async t => {
      const target = ctx.name('target')
      const events = []
      for (let i = 0; i < 6; i++) events.push(await backend.appendAudit(auditInput(i % 2 === 0 ? 'task.cancel' : 'task.retry', i < 3 ? target : `${target}-other`)))
      const ids = (list: Array<{ id: string }>): string[] => list.map(e => e.id)
      t.same(ids(await backend.listAudit({ limit: 100, target })), ids(events.slice(0, 3)).reverse(), 'by target')
      t.same(ids(await backend.listAudit({ limit: 100, target, action: 'task.cancel' })), [events[2]?.id, events[0]?.id], 'by target and action')
      const byAction = await backend.listAudit({ limit: 100, action: 'task.retry' })
      t.ok(byAction.length >= 3 && byAction.every(e => e.action === 'task.retry'), 'by action alone')
      const since = events[4]?.time as number
      const recent = await backend.listAudit({ limit: 100, since })
      t.ok(recent.every(e => e.time >= since), 'since: nothing older')
      t.ok(ids(recent).includes(events[5]?.id as string) && ids(recent).includes(events[4]?.id as string), 'since: includes events at and after it')
      for (const [i, event] of events.entries()) {
        const atOwnTime = await backend.listAudit({ limit: 100, target: event.target, since: event.time })
        t.ok(ids(atOwnTime).includes(event.id), `since = event ${i}'s own reported time (${event.time}) includes it`)
      }
      const page1 = await backend.listAudit({ limit: 2, target })
      const page2 = await backend.listAudit({ limit: 2, target, beforeId: page1[1]?.id as string })
      t.same(ids([...page1, ...page2]), ids(events.slice(0, 3)).reverse(), 'beforeId pages backwards without overlap')
      t.same(await backend.listAudit({ limit: 2, target, beforeId: events[0]?.id as string }), [], 'nothing before the first')
    })

    conformanceCaseNeeding(t, ctx, ['audit'], 'pruneAudit by count keeps the newest', async t => {
      for (let i = 0; i < 10; i++) await backend.appendAudit(auditInput('count.prune', String(i)))
      const all = await backend.listAudit({ limit: 1000 })
      const removed = await backend.pruneAudit({ maxCount: 4 })
      t.equal(removed, all.length - 4, `removed ${all.length - 4}`)
      const left = await backend.listAudit({ limit: 1000 })
      t.same(left.map(e => e.id), all.slice(0, 4).map(e => e.id), 'the 4 newest remain')
      t.equal(await backend.pruneAudit({ maxCount: 4 }), 0, 'pruning again removes nothing')
    })

    conformanceCaseNeeding(t, ctx, ['audit'], 'pruneAudit by age removes only older events', async t => {
      const old = await backend.appendAudit(auditInput('age.prune', 'old'))
      await waitFor(async () => (await backend.now()) >= old.time + 1_500, { timeoutMs: 5_000, what: 'the clock to move 1.5 s' })
      const fresh = await backend.appendAudit(auditInput('age.prune', 'fresh'))
      t.equal(await backend.pruneAudit({ maxAgeMs: 3_600_000 }), 0, 'nothing an hour old')
      // cutoff halfway between the two events, leaving ~750 ms of margin either side for the call's latency
      const cutoffAge = (await backend.now()) - (old.time + 750)
      const removed = await backend.pruneAudit({ maxAgeMs: cutoffAge })
      t.ok(removed >= 1, `removed ${removed} (at least the old one)`)
      const left = await backend.listAudit({ limit: 1000 })
      t.notOk(left.some(e => e.id === old.id), 'the old event is gone')
      t.ok(left.some(e => e.id === fresh.id), 'the fresh one stays')
    })
  }
}
