import type { Backend, BackendCapabilities, TaskFilter } from '../../types.ts'
import {
  conformanceCase, enqueueOne, expectUnsupported, newTask,
  type Capability, type ConformanceArea, type ConformanceContext
} from '../support.ts'

const BOOLEAN_CAPABILITIES: Capability[] = [
  'priorities', 'delayedTasks', 'idempotencyKeys', 'cancel', 'queuePause', 'globalPause',
  'queueWeights', 'rateLimit', 'leaderLock', 'workerRegistry', 'eventLog', 'audit', 'workNotifications', 'records'
]

/** The calls that exercise each capability; when it is declared off, every one must throw UNSUPPORTED_BY_BACKEND. */
function callsFor (capability: Capability, backend: Backend, ctx: ConformanceContext): Record<string, () => unknown> {
  const queue = ctx.name(`unsupported-${capability}`)
  switch (capability) {
    case 'priorities': return { 'enqueue with a priority': () => backend.enqueue([newTask(queue, { priority: 5 })]) }
    case 'delayedTasks': return {
      'enqueue with delayMs': () => backend.enqueue([newTask(queue, { delayMs: 60_000 })]),
      'enqueue with a future runAt': async () => backend.enqueue([newTask(queue, { runAt: (await backend.now()) + 60_000 })])
    }
    case 'idempotencyKeys': return { 'enqueue with an idempotency key': () => backend.enqueue([newTask(queue, { idempotencyKey: queue })]) }
    case 'cancel': return { cancelTask: async () => backend.cancelTask(await enqueueOne(backend, newTask(queue))) }
    case 'queuePause': return { setQueuePaused: () => backend.setQueuePaused(queue, true) }
    case 'globalPause': return { setGlobalPause: () => backend.setGlobalPause(true) }
    case 'queueWeights': return { setQueueWeight: () => backend.setQueueWeight(queue, 2) }
    case 'rateLimit': return { setRateLimit: () => backend.setRateLimit({ limit: 5, windowMs: 1000 }) }
    case 'leaderLock': return {
      acquireLeader: () => backend.acquireLeader(queue, 'node', 1000),
      releaseLeader: () => backend.releaseLeader(queue, 'node', 1)
    }
    case 'workerRegistry': return {
      heartbeatWorker: () => backend.heartbeatWorker({ id: queue, host: 'h', pid: 1, version: '0', queues: [], handlers: [], concurrency: 1, inFlight: 0, startedAt: 0, lastHeartbeatAt: 0 }, 1000),
      listWorkers: () => backend.listWorkers(),
      setWorkerCordoned: () => backend.setWorkerCordoned(queue, true),
      sweepWorkers: () => backend.sweepWorkers({ olderThanMs: 0, limit: 10 })
    }
    case 'eventLog': return {
      appendEvents: () => backend.appendEvents([{ type: 'x', data: null }]),
      readEvents: () => backend.readEvents({ afterId: null, limit: 10 })
    }
    case 'audit': return {
      appendAudit: () => backend.appendAudit({ action: 'a', target: 't', actor: 'x', requestId: 'r', params: {}, outcome: 'ok' }),
      listAudit: () => backend.listAudit({ limit: 10 }),
      pruneAudit: () => backend.pruneAudit({ maxCount: 10 })
    }
    case 'records': return {
      putRecord: () => backend.putRecord('unsupported', queue, {}),
      getRecord: () => backend.getRecord('unsupported', queue),
      listRecords: () => backend.listRecords('unsupported', { limit: 10 }),
      deleteRecord: () => backend.deleteRecord('unsupported', queue),
      claimOnce: () => backend.claimOnce(queue, 1000)
    }
    case 'flowControl': return {
      setFlowLimit: () => backend.setFlowLimit({ kind: 'queue', name: queue }, { concurrency: 1, rate: null }),
      clearFlowLimit: () => backend.clearFlowLimit({ kind: 'queue', name: queue }),
      listFlowLimits: () => backend.listFlowLimits()
    }
    default: return {}
  }
}

export const capabilitiesArea: ConformanceArea = {
  name: 'capabilities',
  run (t, ctx) {
    const { backend, capabilities: caps } = ctx

    conformanceCase(t, 'name and capabilities are fully declared', async t => {
      t.type(backend.name, 'string')
      t.ok(backend.name.length > 0, 'name is not empty')
      for (const cap of BOOLEAN_CAPABILITIES) t.type(caps[cap], 'boolean', `capabilities.${cap} is a boolean`)
      t.ok(Array.isArray(caps.taskFilters), 'taskFilters is an array')
      const declared: BackendCapabilities['taskFilters'] = caps.taskFilters
      t.ok(declared.every(f => ['state', 'queue', 'handler', 'query', 'since', 'until', 'timeField', 'tenant', 'correlationId'].includes(f)), 'taskFilters names TaskFilter fields only')
      const modes = caps.idempotencyModes ?? []
      t.ok(Array.isArray(modes) && modes.every(m => m === 'replace' || m === 'preserve_run_at'), 'idempotencyModes names modes beyond reject only')
      t.ok(modes.length === 0 || caps.idempotencyKeys, 'idempotency modes need idempotency keys')
      t.ok(Number.isInteger(await backend.now()), 'now() answers integer epoch ms')
      t.ok(Math.abs((await backend.now()) - Date.now()) < 60_000, 'now() is a plausible wall clock')
      await backend.init()
      t.pass('init() is idempotent')
    })

    // flowControl is optional in the declaration (absent means off)
    const off = [...BOOLEAN_CAPABILITIES, ...(caps.flowControl === true ? [] : ['flowControl' as const])].filter(cap => !caps[cap] && cap !== 'workNotifications')
    for (const cap of off) {
      conformanceCase(t, `${cap} declared off: its calls throw UNSUPPORTED_BY_BACKEND`, async t => {
        for (const [what, call] of Object.entries(callsFor(cap, backend, ctx))) await expectUnsupported(t, call, what)
      })
    }

    conformanceCase(t, 'taskCount: totals are exact where declared, null where not, never a guess', async t => {
      const totals = caps.taskCount
      if (totals !== null) {
        t.ok(totals.exact.every(f => caps.taskFilters.includes(f)), 'taskCount.exact names honoured filter fields only')
        t.ok(Number.isInteger(totals.examineUpTo) && totals.examineUpTo >= 0, 'taskCount.examineUpTo is an integer >= 0')
      }
      const queue = ctx.name('count')
      await backend.enqueue([
        newTask(queue, { handler: 'count.counted', payload: { note: 'needle' } }),
        newTask(queue, { handler: 'count.counted', payload: { note: 'needle' } }),
        newTask(queue, { handler: 'count.counted', payload: { note: 'needle' } }),
        newTask(queue, { handler: 'count.other', payload: { note: 'hay' } })
      ])
      const stored = totals === null ? null : (await backend.listTasks({ limit: 0, offset: 0 })).total
      if (totals !== null) t.type(stored, 'number', 'an unfiltered list always carries its total')
      const lists: Array<[TaskFilter, number]> = [
        [{ queue }, 4], [{ queue, state: 'ready' }, 4], [{ queue, handler: 'count.counted' }, 3], [{ queue, query: 'NEEDLE' }, 3], [{ queue, state: 'ready', handler: 'count.other' }, 1]
      ]
      for (const [filter, expected] of lists) {
        const fields = Object.keys(filter) as Array<keyof TaskFilter>
        if (!fields.every(f => caps.taskFilters.includes(f))) continue
        const page = await backend.listTasks({ ...filter, limit: 1, offset: 0 })
        const what = `total of a list by ${fields.join(' + ')}`
        if (totals === null) t.equal(page.total, null, `${what}: null (no totals declared)`)
        else if (fields.every(f => totals.exact.includes(f))) t.equal(page.total, expected, `${what}: exact`)
        else if (totals.examineUpTo > 0 && (stored ?? Infinity) <= totals.examineUpTo) t.equal(page.total, expected, `${what}: exact (${String(stored)} tasks stored, up to ${totals.examineUpTo} examined)`)
        else t.ok(page.total === null || page.total === expected, `${what}: exact or null`)
      }
    })

    conformanceCase(t, 'workNotifications: subscribeWork exists exactly when declared', async t => {
      if (caps.workNotifications) t.type(backend.subscribeWork, 'function', 'declared: subscribeWork is offered')
      else if (backend.subscribeWork !== undefined) await expectUnsupported(t, () => backend.subscribeWork?.(() => {}), 'subscribeWork')
      else t.pass('not declared and not offered')
    })

    conformanceCase(t, 'pushDelivery: awaitPushedTasks exists exactly when declared', async t => {
      if (caps.pushDelivery === true) t.type(backend.awaitPushedTasks, 'function', 'declared: awaitPushedTasks is offered')
      else t.equal(backend.awaitPushedTasks, undefined, 'not declared: awaitPushedTasks is not offered')
    })
  }
}
