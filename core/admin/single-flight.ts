// Concurrent identical reads share one backend round: a dashboard polled by many
// operators (or one operator's many tabs) costs one overview computation at a time,
// not one per request. Nothing is cached past the in-flight call, so a read that
// starts after a change has finished always sees it.
export class SingleFlight<T> {
  private inflight: Promise<T> | null = null

  run (compute: () => Promise<T>): Promise<T> {
    this.inflight ??= compute().finally(() => { this.inflight = null })
    return this.inflight
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
