import { flowScopeKindsOf, type Backend, type FlowLimitState, type FlowScope, type LeasedTask } from '../../types.ts'
import {
  conformanceCaseNeeding, enqueueIds, expectUnsupported, mustGetTask, newTask, refused, waitFor,
  type ConformanceArea
} from '../support.ts'

// Flow control: per-queue, per-handler and per-tenant limits, stored in the backend and enforced
// by the lease itself, so every node sees them and concurrent leasers cannot overshoot.

const LONG_WINDOW_MS = 3_600_000

async function limitOf (backend: Backend, scope: FlowScope): Promise<FlowLimitState | undefined> {
  return (await backend.listFlowLimits()).find(l => l.kind === scope.kind && l.name === scope.name)
}

async function leaseAll (backend: Backend, queues: string[], limit = 100, leaseMs = 30_000, handlers?: string[]): Promise<LeasedTask[]> {
  return await backend.leaseTasks({ workerId: 'flow-worker', queues, limit, leaseMs, ...(handlers === undefined ? {} : { handlers }) })
}

const ref = (l: LeasedTask): { id: string, leaseToken: string } => ({ id: l.id, leaseToken: l.leaseToken })

export const flowControlArea: ConformanceArea = {
  name: 'flow-control',
  run (t, ctx) {
    const { backend, peer } = ctx

    conformanceCaseNeeding(t, ctx, ['flowControl'], 'limits: set, list, replace, clear; bad limits are refused', async t => {
      const queue: FlowScope = { kind: 'queue', name: ctx.name('q') }
      const handler: FlowScope = { kind: 'handler', name: ctx.name('h') }
      await backend.setFlowLimit(queue, { concurrency: 2, rate: null })
      await backend.setFlowLimit(handler, { concurrency: null, rate: { limit: 5, windowMs: 1000 } })
      t.match(await limitOf(backend, queue), { kind: 'queue', name: queue.name, concurrency: 2, rate: null, running: 0, started: 0, saturated: false, throttled: 0 })
      t.match(await limitOf(peer, handler), { concurrency: null, rate: { limit: 5, windowMs: 1000 }, running: 0, started: 0 }, 'another node sees the limit')
      await peer.setFlowLimit(queue, { concurrency: 3, rate: { limit: 10, windowMs: 60_000 } })
      t.match(await limitOf(backend, queue), { concurrency: 3, rate: { limit: 10, windowMs: 60_000 } }, 'set replaces')
      const listed = (await backend.listFlowLimits()).filter(l => l.name === queue.name || l.name === handler.name)
      t.same(listed.map(l => l.kind), ['handler', 'queue'], 'ordered by kind then name')
      t.equal(await backend.clearFlowLimit(queue), true, 'clear: true when it existed')
      t.equal(await backend.clearFlowLimit(queue), false, 'clear again: false')
      t.equal(await limitOf(backend, queue), undefined, 'cleared limits are not listed')
      await backend.clearFlowLimit(handler)

      await refused(t, 'concurrency 0', async () => await backend.setFlowLimit(queue, { concurrency: 0, rate: null }), 'limit.concurrency')
      await refused(t, 'no bound at all', async () => await backend.setFlowLimit(queue, { concurrency: null, rate: null }), 'limit')
      await refused(t, 'a window of 0 ms', async () => await backend.setFlowLimit(queue, { concurrency: null, rate: { limit: 1, windowMs: 0 } }), 'limit.rate.windowMs')
      await refused(t, 'an unknown kind', async () => await backend.setFlowLimit({ kind: 'region' as 'queue', name: 'x' }, { concurrency: 1, rate: null }), 'scope.kind')
      await refused(t, 'an empty name', async () => await backend.clearFlowLimit({ kind: 'queue', name: '' }), 'scope.name')
      t.equal(await limitOf(backend, queue), undefined, 'nothing was half-applied')
    })

    conformanceCaseNeeding(t, ctx, ['flowControl'], 'queue concurrency: held-back tasks stay ready and throttled; complete, fail, release, recover and cancel free places exactly', async t => {
      const q = ctx.name('conc')
      const scope: FlowScope = { kind: 'queue', name: q }
      const ids = await enqueueIds(backend, Array.from({ length: 8 }, (_, i) => newTask(q, { payload: { i } })))
      await backend.setFlowLimit(scope, { concurrency: 2, rate: null })
      const first = await leaseAll(backend, [q])
      t.equal(first.length, 2, 'only 2 leased')
      t.same(await leaseAll(peer, [q]), [], 'another node leases nothing while 2 run')
      const held = await mustGetTask(backend, ids.find(id => !first.some(l => l.id === id)) as string)
      t.match(held, { state: 'ready', attempts: 0 }, 'a held-back task stays ready, attempts untouched')
      t.match(await limitOf(backend, scope), { running: 2, saturated: true, throttled: 6 })
      const [stats] = await backend.queueStats([q])
      t.equal(stats?.throttled, 6, 'queue counts show the throttled tasks')
      t.equal(stats?.ready, 6)

      // complete frees one place
      await backend.completeTasks([ref(first[0] as LeasedTask)])
      const second = await leaseAll(peer, [q])
      t.equal(second.length, 1, 'complete frees exactly one place')
      // fail (retry now) frees one
      await backend.failTasks([{ ...ref(first[1] as LeasedTask), error: { message: 'x' }, retryDelayMs: 0 }])
      const third = await leaseAll(backend, [q])
      t.equal(third.length, 1, 'fail frees exactly one place')
      // release frees one
      await backend.releaseTasks([ref(second[0] as LeasedTask)])
      const fourth = await leaseAll(backend, [q], 100, 200)
      t.equal(fourth.length, 1, 'release frees exactly one place')
      t.same(await leaseAll(backend, [q]), [], 'still 2 running')
      // recover of an expired lease frees one
      await waitFor(async () => (await backend.recoverExpiredLeases(100)).requeued.includes((fourth[0] as LeasedTask).id), { timeoutMs: 5000, what: 'the short lease to be recovered' })
      const fifth = await leaseAll(backend, [q])
      t.equal(fifth.length, 1, 'recover frees exactly one place')
      t.match(await limitOf(backend, scope), { running: 2, saturated: true })
      // cancel of a throttled task takes it out of the throttled count
      const before = (await limitOf(backend, scope))?.throttled as number
      const leasedIds = new Set([...first, ...second, ...third, ...fourth, ...fifth].map(l => l.id))
      const waiting = ids.find(id => !leasedIds.has(id)) as string
      t.same(await backend.cancelTask(waiting), { outcome: 'canceled' }, 'a throttled task can be canceled')
      t.equal((await limitOf(backend, scope))?.throttled, before - 1, 'throttled follows the cancel')
      t.match(await limitOf(backend, scope), { running: 2 }, 'running counts stay exact')

      await backend.clearFlowLimit(scope)
      const rest = await leaseAll(backend, [q])
      t.ok(rest.length >= 3, `with the limit cleared the rest is leased (${rest.length})`)
    })

    conformanceCaseNeeding(t, ctx, ['flowControl'], 'handler concurrency spans queues and holds back only that handler', async t => {
      const q1 = ctx.name('h1')
      const q2 = ctx.name('h2')
      const limited = ctx.name('limited')
      const free = ctx.name('free')
      await enqueueIds(backend, [
        ...Array.from({ length: 3 }, () => newTask(q1, { handler: limited, priority: 5 })),
        ...Array.from({ length: 3 }, () => newTask(q1, { handler: free })),
        ...Array.from({ length: 3 }, () => newTask(q2, { handler: limited }))
      ])
      await backend.setFlowLimit({ kind: 'handler', name: limited }, { concurrency: 2, rate: null })
      const leased = await leaseAll(backend, [q1, q2], 100, 30_000, [limited, free])
      t.equal(leased.filter(l => l.handler === limited).length, 2, 'the limited handler: 2 across both queues')
      t.equal(leased.filter(l => l.handler === free).length, 3, 'the other handler is not held back')
      t.match(await limitOf(backend, { kind: 'handler', name: limited }), { running: 2, saturated: true, throttled: 4 })
      const stats = await backend.queueStats([q1, q2])
      t.same(stats.map(s => s.throttled), [1, 3], 'queue counts attribute throttled tasks to their queues')
      t.same(await leaseAll(peer, [q1, q2]), [], 'no handler list: the limit still holds')
      await backend.completeTasks(leased.map(ref))
      const more = await leaseAll(peer, [q2, q1])
      t.equal(more.length, 2, 'after completing, 2 more of the limited handler')
      await backend.clearFlowLimit({ kind: 'handler', name: limited })
      await backend.completeTasks(more.map(ref))
    })

    conformanceCaseNeeding(t, ctx, ['flowControl'], 'rate: N starts per window, counted across nodes, whatever finishes', async t => {
      const q = ctx.name('rate')
      const handler = ctx.name('rated')
      await enqueueIds(backend, Array.from({ length: 10 }, () => newTask(q, { handler })))
      await backend.setFlowLimit({ kind: 'handler', name: handler }, { concurrency: null, rate: { limit: 3, windowMs: LONG_WINDOW_MS } })
      const a = await leaseAll(backend, [q], 2)
      const b = await leaseAll(peer, [q], 10)
      t.equal(a.length + b.length, 3, '3 starts in the window across two nodes')
      await backend.completeTasks([...a, ...b].map(ref))
      t.same(await leaseAll(backend, [q]), [], 'finishing does not give starts back')
      t.match(await limitOf(backend, { kind: 'handler', name: handler }), { started: 3, running: 0, saturated: true, throttled: 7 })
      await backend.clearFlowLimit({ kind: 'handler', name: handler })
    })

    conformanceCaseNeeding(t, ctx, ['flowControl'], 'concurrency is never exceeded by concurrent leasers on two nodes', async t => {
      const q = ctx.name('race')
      const total = 60
      const limit = 4
      await enqueueIds(backend, Array.from({ length: total }, (_, i) => newTask(q, { payload: { i } })))
      await backend.setFlowLimit({ kind: 'queue', name: q }, { concurrency: limit, rate: null })
      let running = 0
      let maxRunning = 0
      let done = 0
      const deadline = Date.now() + 30_000
      const leaser = async (node: Backend): Promise<void> => {
        while (done < total && Date.now() < deadline) {
          const leased = await node.leaseTasks({ workerId: 'racer', queues: [q], limit: 3, leaseMs: 30_000 })
          running += leased.length
          maxRunning = Math.max(maxRunning, running)
          if (leased.length === 0) { await new Promise(resolve => setTimeout(resolve, 2)); continue }
          await new Promise(resolve => setTimeout(resolve, 3))
          // counted out before the ack: the backend still counts them until it commits
          running -= leased.length
          done += leased.length
          await node.completeTasks(leased.map(ref))
        }
      }
      await Promise.all([backend, peer, backend, peer, backend, peer].map(leaser))
      t.equal(done, total, 'every task ran')
      t.ok(maxRunning <= limit, `at most ${limit} ran at once (max seen ${maxRunning})`)
      t.match(await limitOf(backend, { kind: 'queue', name: q }), { running: 0, saturated: false, throttled: 0 })
      await backend.clearFlowLimit({ kind: 'queue', name: q })
    })

    conformanceCaseNeeding(t, ctx, ['flowControl'], 'completeAndLease keeps the limit', async t => {
      if (backend.completeAndLease === undefined) { t.pass('no completeAndLease'); return }
      const q = ctx.name('cal')
      await enqueueIds(backend, Array.from({ length: 5 }, () => newTask(q)))
      await backend.setFlowLimit({ kind: 'queue', name: q }, { concurrency: 2, rate: null })
      const first = await leaseAll(backend, [q])
      t.equal(first.length, 2)
      const next = await backend.completeAndLease([ref(first[0] as LeasedTask)], { workerId: 'w', queues: [q], limit: 10, leaseMs: 30_000 })
      t.same(next.acks, ['ok'])
      t.equal(next.leased.length, 1, 'the ack frees one place, the lease takes exactly it')
      await backend.clearFlowLimit({ kind: 'queue', name: q })
    })

    // --- per-tenant limits (capability flowScopeKinds includes 'tenant') ---------------
    const tenantLimits = flowScopeKindsOf(ctx.capabilities).includes('tenant')
    const tenantCase = (name: string, fn: Parameters<typeof conformanceCaseNeeding>[4]): void => {
      if (tenantLimits) conformanceCaseNeeding(t, ctx, ['flowControl'], name, fn)
      else t.test(name, { skip: 'backend declares no tenant flow limits' }, async () => {})
    }

    if (ctx.capabilities.flowControl === true && !tenantLimits) {
      conformanceCaseNeeding(t, ctx, ['flowControl'], 'tenant limits declared off: setFlowLimit refuses them', async t => {
        await expectUnsupported(t, async () => await backend.setFlowLimit({ kind: 'tenant', name: ctx.name('tn') }, { concurrency: 1, rate: null }), 'setFlowLimit of a tenant')
      })
    }

    tenantCase('tenant concurrency spans queues and handlers, holds back only that tenant; complete, fail, release and recover free places exactly', async t => {
      const q1 = ctx.name('tq1')
      const q2 = ctx.name('tq2')
      const acme = ctx.name('acme')
      const other = ctx.name('other')
      const scope: FlowScope = { kind: 'tenant', name: acme }
      await enqueueIds(backend, [
        ...Array.from({ length: 3 }, () => newTask(q1, { handler: 'tenant.a', tenant: acme, priority: 5 })),
        ...Array.from({ length: 3 }, () => newTask(q2, { handler: 'tenant.b', tenant: acme })),
        ...Array.from({ length: 3 }, () => newTask(q1, { handler: 'tenant.a', tenant: other })),
        ...Array.from({ length: 3 }, () => newTask(q2, { handler: 'tenant.b' }))
      ])
      await backend.setFlowLimit(scope, { concurrency: 2, rate: null })
      t.match(await limitOf(peer, scope), { kind: 'tenant', name: acme, concurrency: 2, running: 0 }, 'another node sees the tenant limit')
      const acmeIds = new Set((await backend.listTasks({ tenant: acme, limit: 100, offset: 0 })).tasks.map(task => task.id))
      const ofAcme = (ls: LeasedTask[]): LeasedTask[] => ls.filter(l => acmeIds.has(l.id))
      const leased = await leaseAll(backend, [q1, q2])
      t.equal(acmeIds.size, 6)
      const first = ofAcme(leased)
      t.equal(first.length, 2, 'the limited tenant: 2 across both queues and handlers')
      t.equal(leased.length - first.length, 6, 'another tenant and tasks without a tenant are not held back')
      t.match(await limitOf(backend, scope), { running: 2, saturated: true, throttled: 4 })
      t.same((await backend.queueStats([q1, q2])).map(q => q.throttled), [1, 3], 'queue counts attribute the tenant\'s held-back tasks to their queues')
      t.same(await leaseAll(peer, [q1, q2]), [], 'another node leases nothing of the tenant while 2 run')
      const held = (await backend.listTasks({ tenant: acme, state: 'ready', limit: 100, offset: 0 })).tasks
      t.equal(held.length, 4, 'held-back tasks stay ready')
      t.ok(held.every(task => task.attempts === 0), 'attempts untouched')
      await backend.completeTasks(leased.filter(l => !acmeIds.has(l.id)).map(ref))

      await backend.completeTasks([ref(first[0] as LeasedTask)])
      const second = ofAcme(await leaseAll(peer, [q2, q1]))
      t.equal(second.length, 1, 'complete frees exactly one place')
      await backend.failTasks([{ ...ref(first[1] as LeasedTask), error: { message: 'x' }, retryDelayMs: 0 }])
      const third = ofAcme(await leaseAll(backend, [q1, q2]))
      t.equal(third.length, 1, 'fail frees exactly one place')
      await backend.releaseTasks([ref(second[0] as LeasedTask)])
      const fourth = ofAcme(await leaseAll(backend, [q1, q2], 100, 200))
      t.equal(fourth.length, 1, 'release frees exactly one place')
      t.same(await leaseAll(backend, [q1, q2]), [], 'still 2 running')
      await waitFor(async () => (await backend.recoverExpiredLeases(100)).requeued.includes((fourth[0] as LeasedTask).id), { timeoutMs: 5000, what: 'the short lease to be recovered' })
      const fifth = ofAcme(await leaseAll(peer, [q1, q2]))
      t.equal(fifth.length, 1, 'recover frees exactly one place')
      t.match(await limitOf(backend, scope), { running: 2, saturated: true }, 'running counts stay exact')

      t.equal(await backend.clearFlowLimit(scope), true)
      const rest = await leaseAll(backend, [q1, q2])
      t.ok(rest.length >= 2, `with the limit cleared the rest is leased (${rest.length})`)
      await backend.completeTasks([...third, ...fifth, ...rest].map(ref))
    })

    tenantCase('tenant concurrency is never exceeded by concurrent leasers on two nodes', async t => {
      const q1 = ctx.name('trace1')
      const q2 = ctx.name('trace2')
      const acme = ctx.name('racer')
      const total = 40
      const limit = 3
      await enqueueIds(backend, [
        ...Array.from({ length: total / 2 }, (_, i) => newTask(q1, { handler: 'tenant.a', tenant: acme, payload: { i, limited: true } })),
        ...Array.from({ length: total / 2 }, (_, i) => newTask(q2, { handler: 'tenant.b', tenant: acme, payload: { i, limited: true } })),
        ...Array.from({ length: 10 }, () => newTask(q1, { handler: 'tenant.a' }))
      ])
      await backend.setFlowLimit({ kind: 'tenant', name: acme }, { concurrency: limit, rate: null })
      let running = 0
      let maxRunning = 0
      let done = 0
      const deadline = Date.now() + 30_000
      const leaser = async (node: Backend): Promise<void> => {
        while (done < total && Date.now() < deadline) {
          const leased = await node.leaseTasks({ workerId: 'racer', queues: [q1, q2], limit: 3, leaseMs: 30_000 })
          const mine = leased.filter(l => (l.payload as { limited?: boolean } | null)?.limited === true)
          running += mine.length
          maxRunning = Math.max(maxRunning, running)
          if (leased.length === 0) { await new Promise(resolve => setTimeout(resolve, 2)); continue }
          await new Promise(resolve => setTimeout(resolve, 3))
          running -= mine.length
          done += mine.length
          await node.completeTasks(leased.map(ref))
        }
      }
      await Promise.all([backend, peer, backend, peer].map(leaser))
      t.equal(done, total, 'every task of the tenant ran')
      t.ok(maxRunning <= limit, `at most ${limit} of the tenant ran at once (max seen ${maxRunning})`)
      t.match(await limitOf(backend, { kind: 'tenant', name: acme }), { running: 0, saturated: false, throttled: 0 })
      await backend.clearFlowLimit({ kind: 'tenant', name: acme })
    })

    tenantCase('tenant rate: N starts per window, counted across nodes and queues', async t => {
      const q1 = ctx.name('trate1')
      const q2 = ctx.name('trate2')
      const acme = ctx.name('rated')
      await enqueueIds(backend, [
        ...Array.from({ length: 5 }, () => newTask(q1, { tenant: acme })),
        ...Array.from({ length: 5 }, () => newTask(q2, { tenant: acme }))
      ])
      await backend.setFlowLimit({ kind: 'tenant', name: acme }, { concurrency: null, rate: { limit: 3, windowMs: LONG_WINDOW_MS } })
      const a = await leaseAll(backend, [q1, q2], 2)
      const b = await leaseAll(peer, [q2, q1], 10)
      t.equal(a.length + b.length, 3, '3 starts in the window across two nodes')
      await backend.completeTasks([...a, ...b].map(ref))
      t.same(await leaseAll(backend, [q1, q2]), [], 'finishing does not give starts back')
      t.match(await limitOf(backend, { kind: 'tenant', name: acme }), { started: 3, running: 0, saturated: true, throttled: 7 })
      await backend.clearFlowLimit({ kind: 'tenant', name: acme })
      t.equal((await leaseAll(peer, [q1, q2])).length, 7, 'with the limit cleared the rest is leased')
    })
  }
}
