// Durable schedules on a cluster, with a controlled clock: two scheduler instances
// (each with its own backend client, as two processes) tick an every-second schedule
// through 30 instants; every instant must be enqueued exactly once, also when the
// leader dies mid-tick between claiming an instant and enqueueing it.
import t from 'tap'
import type { Backend } from '../../core/backend/types.ts'
import { createScheduler, type Scheduler } from '../../core/scheduler/index.ts'
import { instantsOf, OPENERS, tasksOf, waitFor } from './support.ts'

const T0 = Date.parse('2031-05-01T00:00:00.000Z')
const SECOND = 1000
const HANDLER = 'test.every_second'

function node (backend: Backend, id: string, clock: { now: number }): Scheduler {
  const scheduler = createScheduler({
    backend,
    now: () => clock.now,
    options: { autoTick: false, leaderTtlMs: 1000, misfireGraceMs: 60_000, nodeId: id }
  })
  scheduler.scheduleFactory('every_second', ({ instant }) => ({ handler: HANDLER, payload: { instant } }))
  return scheduler
}

/** a client that dies (every later call fails, as for a killed process) right after its first claim once armed */
function mortal (backend: Backend): { backend: Backend, arm: () => void, dead: () => boolean } {
  let armed = false
  let dead = false
  const proxy = new Proxy(backend, {
    get (target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof value !== 'function') return value
      return async (...args: unknown[]) => {
        if (dead) throw new Error('process killed')
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)
        if (armed && prop === 'claimOnce' && result === true) dead = true
        return result
      }
    }
  })
  return { backend: proxy, arm: () => { armed = true }, dead: () => dead }
}

const expected = Array.from({ length: 30 }, (_, i) => T0 + (i + 1) * SECOND)

for (const [name, opener] of Object.entries(OPENERS)) {
  t.test(`${name}: two nodes, 30 instants of an every-second schedule, each fired exactly once`, async t => {
    const storage = await opener(t)
    const clock = { now: T0 }
    const a = node(await storage.open(), 'node-a', clock)
    const b = node(await storage.open(), 'node-b', clock)
    await a.upsert({ name: 'every_second', spec: '* * * * * *', durable: true, overlap: 'allow' })
    let leaderTicks = 0
    for (let i = 0; i < 30; i++) {
      clock.now += SECOND
      // both nodes tick at once, in either order, like two processes on one timer
      const reports = await Promise.all(i % 2 === 0 ? [a.tick(), b.tick()] : [b.tick(), a.tick()])
      leaderTicks += reports.filter(r => r.leader).length
    }
    t.equal(leaderTicks, 30, 'exactly one node leads each tick')
    const backend = await storage.open()
    const tasks = await tasksOf(backend, HANDLER)
    t.same(instantsOf(tasks), expected, '30 tasks, one per instant, none missing, none doubled')
    const [schedule] = await a.listSchedules()
    t.match(schedule, { name: 'every_second', durable: true, lastStatus: 'fired', lastRunAt: expected.at(-1), counts: { fired: 30, skipped: 0, failed: 0 } })
    t.equal(schedule?.nextRunAt, T0 + 31 * SECOND, 'next run is the next instant')
    t.same(await b.listSchedules(), await a.listSchedules(), 'both nodes see the same durable state')
    await a.stop()
    await b.stop()
  })

  t.test(`${name}: the leader dies between claiming an instant and enqueueing it; the other node fires it, nothing doubles`, async t => {
    const storage = await opener(t)
    const clock = { now: T0 }
    const doomed = mortal(await storage.open())
    const a = node(doomed.backend, 'node-a', clock)
    const b = node(await storage.open(), 'node-b', clock)
    await a.upsert({ name: 'every_second', spec: '* * * * * *', durable: true, overlap: 'allow' })
    // node-a takes the lock first so that it is the one that dies
    clock.now += SECOND
    t.equal((await a.tick()).leader, true, 'node-a leads')
    t.equal((await b.tick()).leader, false, 'node-b follows')
    for (let i = 1; i < 10; i++) {
      clock.now += SECOND
      await Promise.all([a.tick(), b.tick()])
    }
    doomed.arm()
    clock.now += SECOND // instant 11: node-a claims it and dies before the enqueue
    await a.tick().catch(() => {})
    t.ok(doomed.dead(), 'node-a died right after its claim')
    const takeover = await waitFor(async () => {
      const report = await b.tick()
      return report.leader ? report : undefined
    }, 'node-b to take the lock after node-a\'s expired', 10_000)
    t.equal(takeover.fired, 1, 'the new leader fires the instant the dead leader had claimed')
    for (let i = 11; i < 30; i++) {
      clock.now += SECOND
      const report = await b.tick()
      t.equal(report.fired, 1, `instant ${i + 1} fired once`)
    }
    const tasks = await tasksOf(await storage.open(), HANDLER)
    t.same(instantsOf(tasks), expected, 'all 30 instants, each exactly once')
    await b.stop()
  })
}
