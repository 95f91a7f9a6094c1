// Concurrent identical reads share one backend round: a dashboard polled by many
// operators (or one operator's many tabs) costs one overview computation at a time,
// not one per request. Nothing is cached past the in-flight call, so a read that
// starts after a change has finished always sees it.
export class SingleFlight<T> {
  private inflight: Promise<T> | null = null

  run (compute: () => Promise<T>): Promise<T> {
    if (this.inflight !== null) return this.inflight
    const flight = compute()
    this.inflight = flight
    // registered before any caller awaits the flight, so it is cleared before they resume;
    // one then() rather than finally(), which allocates twice the promises and closures
    const clear = (): void => { if (this.inflight === flight) this.inflight = null }
    flight.then(clear, clear)
    return flight
  }
}

/** One SingleFlight per owner object (an admin service's context), created on first use. */
export function flightsFor<K extends object, T> (): (owner: K) => SingleFlight<T> {
  const flights = new WeakMap<K, SingleFlight<T>>()
  return (owner) => {
    let flight = flights.get(owner)
    if (flight === undefined) { flight = new SingleFlight<T>(); flights.set(owner, flight) }
    return flight
  }
}

/** how long a computed overview or queue list is answered again by default (AdminOptions.readReuseMs) */
export const READ_REUSE_MS = 100

/**
 * A read answered again from its last computation for `reuseMs` (its own timestamp says
 * when it was made), unless `changes` moved since (this service answered a mutation),
 * so an operator's own change shows at once; computations in flight are shared.
 */
export function reusedReadsFor<K extends object, T> (): (owner: K, changes: number, reuseMs: number, compute: () => Promise<T>) => Promise<T> {
  const flights = flightsFor<K, T>()
  const last = new WeakMap<K, { value: T, at: number, changes: number }>()
  return (owner, changes, reuseMs, compute) => {
    const kept = last.get(owner)
    if (kept !== undefined && kept.changes === changes && Date.now() - kept.at < reuseMs) return Promise.resolve(kept.value)
    // reuseMs 0: every read computed afresh, nothing worth keeping
    if (reuseMs <= 0) return flights(owner).run(compute)
    return flights(owner).run(async () => {
      const value = await compute()
      last.set(owner, { value, at: Date.now(), changes })
      return value
    })
  }
}
