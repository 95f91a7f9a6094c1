import {
  conformanceCaseNeeding, waitFor, within,
  type ConformanceArea
} from '../support.ts'

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
