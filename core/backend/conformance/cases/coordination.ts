import { leaseUnderRateLimit } from '../../rate-lease.ts'
import type { Backend } from '../../types.ts'
import {
  conformanceCaseNeeding, enqueueIds, newTask, waitFor, within,
  type ConformanceArea
} from '../support.ts'

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, Math.max(0, ms)))

/** the backend clock minus the local one (ms), read off the call's midpoint */
async function clockOffset (backend: Backend): Promise<number> {
  const sent = Date.now()
  const at = await backend.now()
  return at - (sent + Date.now()) / 2
}

export const coordinationArea: ConformanceArea = {
  name: 'coordination',
  run (t, ctx) {
    const { backend, peer } = ctx

    conformanceCaseNeeding(t, ctx, ['leaderLock'], 'leader lock: acquire, refuse, renew, expire, fence, release', async t => {
      const name = ctx.name('leader')
      const before = await backend.now()
      const a = await backend.acquireLeader(name, 'node-a', 30_000)
      const after = await backend.now()
      t.equal(a.acquired, true, 'A acquires a free lock')
      t.match(a.lock, { name, holder: 'node-a' })
      t.ok(within(a.lock?.expiresAt, before + 30_000, after + 30_000), 'expiresAt = backend-now + ttl')
      const tokenA = a.lock?.token as number
      t.type(tokenA, 'number')

      const refused = await peer.acquireLeader(name, 'node-b', 30_000)
      t.equal(refused.acquired, false, 'B is refused while A holds it')
      t.match(refused.lock, { holder: 'node-a', token: tokenA }, 'B is told who holds it')

      const renewed = await backend.acquireLeader(name, 'node-a', 30_000)
      t.equal(renewed.acquired, true, 'A renews')
      t.equal(renewed.lock?.token, tokenA, 'renewal keeps the token')
      t.ok((renewed.lock?.expiresAt ?? 0) >= (a.lock?.expiresAt ?? 0), 'renewal moves expiry forward')

      const state = await backend.getCoordinationState()
      t.match(state.leaders.find(l => l.name === name), { holder: 'node-a', token: tokenA }, 'coordination state lists the lock')

      t.equal(await backend.releaseLeader(name, 'node-a', tokenA + 1), false, 'a wrong token does not release')
      t.equal(await peer.releaseLeader(name, 'node-b', tokenA), false, 'another holder name does not release')
      t.equal(await backend.releaseLeader(name, 'node-a', tokenA), true, 'A releases with its token')
      t.equal(await backend.releaseLeader(name, 'node-a', tokenA), false, 'releasing twice: false')
      t.notOk((await backend.getCoordinationState()).leaders.some(l => l.name === name && l.holder === 'node-a'), 'the released lock is not listed as held')

      const b = await peer.acquireLeader(name, 'node-b', 30_000)
      t.equal(b.acquired, true, 'a released lock is free at once')
      t.ok((b.lock?.token ?? 0) > tokenA, `fencing token grows on a change of holder (${tokenA} → ${String(b.lock?.token)})`)
      await peer.releaseLeader(name, 'node-b', b.lock?.token as number)
    })

    conformanceCaseNeeding(t, ctx, ['leaderLock'], 'leader lock: an expired holder is replaced and fenced off', async t => {
      const name = ctx.name('leader-expiry')
      const a = await backend.acquireLeader(name, 'node-a', 300)
      t.equal(a.acquired, true, 'A acquires with a short ttl')
      const tokenA = a.lock?.token as number
      const b = await waitFor(async () => {
        const attempt = await peer.acquireLeader(name, 'node-b', 30_000)
        return attempt.acquired ? attempt : undefined
      }, { timeoutMs: 10_000, what: 'B to acquire after A expired' })
      t.ok((await backend.now()) >= (a.lock?.expiresAt ?? 0), 'B got it only after A expired')
      t.equal(b.lock?.holder, 'node-b')
      const tokenB = b.lock?.token as number
      t.ok(tokenB > tokenA, `fencing token grows on a change of holder (${tokenA} → ${tokenB})`)
      t.equal(await backend.releaseLeader(name, 'node-a', tokenA), false, 'A cannot release with its stale token')
      const late = await backend.acquireLeader(name, 'node-a', 30_000)
      t.equal(late.acquired, false, 'A cannot renew what it lost')
      t.match(late.lock, { holder: 'node-b', token: tokenB })
      t.equal(await peer.releaseLeader(name, 'node-b', tokenB), true, 'B releases with its token')
      const again = await backend.acquireLeader(name, 'node-a', 30_000)
      t.equal(again.acquired, true, 'A acquires the free lock again')
      t.ok((again.lock?.token ?? 0) > tokenB, 'the token still grows')
      await backend.releaseLeader(name, 'node-a', again.lock?.token as number)
    })

    conformanceCaseNeeding(t, ctx, ['leaderLock'], 'leader lock: concurrent acquirers, exactly one wins', async t => {
      const name = ctx.name('leader-race')
      const clients = [backend, peer]
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (clients[i % 2] ?? backend).acquireLeader(name, `node-${i}`, 30_000)))
      const winners = results.filter(r => r.acquired)
      t.equal(winners.length, 1, 'one winner')
      const holder = winners[0]?.lock?.holder
      t.ok(results.every(r => r.lock?.holder === holder), 'everyone is told the same holder')
      t.equal(await backend.releaseLeader(name, holder as string, winners[0]?.lock?.token as number), true)
    })

    conformanceCaseNeeding(t, ctx, ['rateLimit'], 'rate limit: concurrent takers never exceed the limit in one window', async t => {
      const limit = { limit: 10, windowMs: 60_000 }
      await backend.setRateLimit(limit)
      try {
        t.same((await backend.getCoordinationState()).rateLimit, limit, 'coordination state reports it')
        const clients = [backend, peer]
        const grants = await Promise.all(Array.from({ length: 20 }, (_, i) => (clients[i % 2] ?? backend).takeRatePermits(3)))
        const granted = grants.reduce((sum, g) => sum + g, 0)
        t.ok(grants.every(g => Number.isInteger(g) && g >= 0 && g <= 3), 'each taker gets 0..n')
        t.ok(granted <= 10, `together they got ${granted} ≤ 10`)
        t.ok(granted >= 1, 'the limiter grants something in a fresh window')
        const more = await backend.takeRatePermits(25)
        t.ok(granted + more <= 10, `a later take(25) stays within the window (${granted} + ${more} ≤ 10)`)
      } finally {
        await backend.setRateLimit(null)
      }
    })

    conformanceCaseNeeding(t, ctx, ['rateLimit'], 'rate limit: take(25) gets at most the limit; permits return with the next window', async t => {
      await backend.setRateLimit({ limit: 10, windowMs: 400 })
      try {
        const first = await backend.takeRatePermits(25)
        t.ok(first <= 10, `take(25) granted ${first} (at most the limit)`)
        // drain the window so the next grant can only come from a later one
        const exhausted = await waitFor(async () => (await backend.takeRatePermits(25)) === 0, { timeoutMs: 5_000, what: 'the window to run out of permits' })
        t.ok(exhausted, 'the window runs out')
        const later = await waitFor(async () => (await backend.takeRatePermits(1)) === 1, { timeoutMs: 5_000, what: 'a permit in a later window' })
        t.ok(later, 'permits come back with the next window')
      } finally {
        await backend.setRateLimit(null)
      }
    })

    conformanceCaseNeeding(t, ctx, ['rateLimit'], 'rate limit: a lease within it takes at most the permits left, counts only what it leased, and says when the permits ended it', async t => {
      const queue = ctx.name('rate-permits')
      const lease = async (client: Backend, limit: number): Promise<{ ids: string[], rateLimited: boolean }> => {
        const { tasks, rateLimited } = await leaseUnderRateLimit(client, { workerId: 'rate-w', queues: [queue], limit, leaseMs: 60_000 })
        return { ids: tasks.map(task => task.id), rateLimited }
      }
      await enqueueIds(backend, [newTask(queue), newTask(queue)])
      const unlimited = await lease(backend, 1)
      t.same([unlimited.ids.length, unlimited.rateLimited], [1, false], 'no limit stored: a lease as leaseTasks')
      // a window of an hour, not about to turn: every lease below falls into one window
      const windowMs = 3_600_000
      const into = (await backend.now()) % windowMs
      if (into > windowMs - 10_000) await sleep(windowMs - into + 100)
      await backend.setRateLimit({ limit: 4, windowMs })
      try {
        const short = await lease(backend, 3)
        t.same([short.ids.length, short.rateLimited], [1, false], 'a queue with fewer tasks than permits: what it holds, not rate limited')
        await enqueueIds(backend, Array.from({ length: 6 }, () => newTask(queue)))
        const capped = await lease(peer, 5)
        t.same([capped.ids.length, capped.rateLimited], [3, true], 'the permits the short lease did not use are left: 3 of 5, rate limited')
        const none = await lease(backend, 1)
        t.same([none.ids.length, none.rateLimited], [0, true], 'the window is used up: nothing, rate limited')
      } finally {
        await backend.setRateLimit(null)
      }
      const cleared = await lease(backend, 10)
      t.same([cleared.ids.length, cleared.rateLimited], [3, false], 'the limit cleared: the rest of the queue')
    })

    // The worker leases within the rate limit through leaseUnderRateLimit. Permits taken
    // in one step and a lease in the next count a start in the window of the permit, not
    // of the start: a lease sent just before a window turns starts tasks in the next one,
    // which then grants its whole quota again. Here two clients lease one task per call
    // from a little before a turn until the new window's permits run out, over several
    // turns (every other one, so each burst begins in an untouched window), and the
    // backend's own start times are counted per window.
    conformanceCaseNeeding(t, ctx, ['rateLimit'], 'rate limit: leases across window turns never start more than the limit in one window (by startedAt)', async t => {
      const queue = ctx.name('rate-lease')
      const limit = 30
      const windowMs = 300
      const turns = 8
      const total = 900
      for (let i = 0; i < total; i += 300) await enqueueIds(backend, Array.from({ length: Math.min(300, total - i) }, (_, j) => newTask(queue, { payload: { i: i + j } })))
      await backend.setRateLimit({ limit, windowMs })
      try {
        const offset = await clockOffset(backend)
        const backendNow = (): number => Date.now() + offset
        let leased = 0
        let straddled = 0
        const lease = async (client: Backend, workerId: string): Promise<{ taken: number, rateLimited: boolean }> => {
          const { tasks, rateLimited } = await leaseUnderRateLimit(client, { workerId, queues: [queue], limit: 1, leaseMs: 60_000 })
          leased += tasks.length
          return { taken: tasks.length, rateLimited }
        }
        // one call's time on this machine now, back to back and as the first after an idle
        // gap (an embedded engine's first statement after a pause took 10-35 ms where the
        // next took 2): calls begin early enough that some end before a turn, and are
        // spaced out until the last two, so far fewer than `limit` start before it
        const warmUp = Date.now()
        for (let i = 0; i < 4; i++) await lease(backend, 'rate-a')
        const callMs = (Date.now() - warmUp) / 4
        let idleCallMs = 0
        for (let i = 0; i < 2; i++) {
          await sleep(windowMs)
          const began = Date.now()
          await lease(backend, 'rate-a')
          idleCallMs = Math.max(idleCallMs, Date.now() - began)
        }
        // and at least a quarter window (spaced calls: still a few starts before the turn)
        const leadMs = Math.min(150, Math.max(windowMs / 4, 4 * callMs, 2 * idleCallMs))
        const burst = async (client: Backend, workerId: string, turn: number): Promise<{ before: number, after: number }> => {
          const seen = { before: 0, after: 0 }
          while (backendNow() < turn + windowMs && leased < total) {
            const { taken, rateLimited } = await lease(client, workerId)
            const at = backendNow()
            if (at < turn) seen.before += taken
            else seen.after += taken
            // the new window's permits are used up: this turn is done
            if (rateLimited && at >= turn + 5) break
            if (at < turn - 2 * callMs) await sleep(leadMs / 4)
          }
          return seen
        }
        for (let i = 0; i < turns && leased < total - 2 * limit; i++) {
          // the turn after the next: the window before it starts with all its permits
          const turn = (Math.floor(backendNow() / windowMs) + 2) * windowMs
          await sleep(turn - leadMs - backendNow())
          const sides = await Promise.all([burst(backend, 'rate-a', turn), burst(peer, 'rate-b', turn)])
          if (sides.some(s => s.before > 0) && sides.some(s => s.after > 0)) straddled++
        }
        const { tasks } = await backend.listTasks({ queue, limit: total, offset: 0 })
        const starts = tasks.flatMap(task => task.startedAt === null ? [] : [task.startedAt])
        t.equal(starts.length, leased, `every leased task has its start time (${leased} leased)`)
        const perWindow = new Map<number, number>()
        for (const at of starts) perWindow.set(Math.floor(at / windowMs), (perWindow.get(Math.floor(at / windowMs)) ?? 0) + 1)
        const over = [...perWindow.entries()].filter(([, n]) => n > limit)
        t.same(over.map(([w, n]) => `window ${w}: ${n}`), [], `no window holds more than ${limit} starts (per window: ${JSON.stringify([...perWindow.values()])})`)
        t.ok(straddled >= 1, `leases straddled ${straddled} of ${turns} window turns`)
      } finally {
        await backend.setRateLimit(null)
      }
    })

    conformanceCaseNeeding(t, ctx, ['rateLimit'], 'setRateLimit(null): unlimited', async t => {
      await backend.setRateLimit({ limit: 1, windowMs: 60_000 })
      await backend.takeRatePermits(1)
      await backend.setRateLimit(null)
      t.equal((await backend.getCoordinationState()).rateLimit, null, 'no limit reported')
      t.equal(await backend.takeRatePermits(1000), 1000, 'every permit granted')
      t.equal(await peer.takeRatePermits(7), 7, 'on every node')
    })

    conformanceCaseNeeding(t, ctx, ['globalPause'], 'global pause is shared state, visible to every node', async t => {
      await backend.setGlobalPause(true)
      try {
        t.equal((await peer.getCoordinationState()).globalPaused, true)
        await backend.setGlobalPause(true)
        t.equal((await backend.getCoordinationState()).globalPaused, true, 'pausing twice is harmless')
      } finally {
        await backend.setGlobalPause(false)
      }
      t.equal((await peer.getCoordinationState()).globalPaused, false)
    })
  }
}
