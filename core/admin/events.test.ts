// Event followers woken by a stream of appends: wakes are spaced by the number of
// waiting followers, so a thousand followers get a burst in a few rounds (each round
// one shared read and one write per stream) rather than one round per append, and
// no append is left undelivered.
import { setMaxListeners } from 'node:events'
import t, { type Test } from 'tap'
import { embeddedBackend, serverBackend } from './test-support.ts'
import { EventPages, EventTail, EventWaker, followEvents, WAKE_SPACING_MAX_MS, WAKE_SPACING_PER_FOLLOWER_MS } from './events.ts'

type Backend = ConstructorParameters<typeof EventPages>[0]

/**
 * `count` followers from `start` on one waker, pages and tail, each recording what it
 * reads (`pick` of each event) until it has `appends` events; all stop when `t` ends.
 */
function startFollowers (t: Test, backend: Backend, waker: EventWaker, start: string, count: number, appends: number, pick: (e: { id: string, type: string }) => string): { seen: string[][], done: Promise<void[]> } {
  const pages = new EventPages(backend)
  const tail = new EventTail(backend)
  const controller = new AbortController()
  // every follower listens on the one signal, as the streams of one gateway each on their own
  setMaxListeners(count + 10, controller.signal)
  t.teardown(() => controller.abort())
  const seen = Array.from({ length: count }, () => [] as string[])
  const done = Promise.all(seen.map(async (into) => {
    for await (const event of followEvents(backend, pages, waker, tail, start, controller.signal)) {
      into.push(pick(event))
      if (into.length === appends) return
    }
  }))
  return { seen, done }
}

t.test('a burst of appends wakes many followers in spaced rounds, and every follower gets every event', { timeout: 120_000 }, async t => {
  const backend = await embeddedBackend(t)
  const waker = new EventWaker(backend, 500, (err) => { throw err })
  t.teardown(() => waker.close())
  const start = (await backend.appendEvents([{ type: 'test.start', data: {} }]))[0]!.id
  const followers = 1000
  const appends = 30
  const { seen, done } = startFollowers(t, backend, waker, start, followers, appends, e => e.type)
  // every follower has read once (nothing yet) and waits
  await new Promise(resolve => setTimeout(resolve, 500))
  const wakesBefore = waker.wakes
  const began = performance.now()
  // issued together, they commit one after another on the one connection, each notifying
  const issued: Array<Promise<unknown>> = []
  for (let i = 0; i < appends; i++) issued.push(backend.appendEvents([{ type: `test.${i}`, data: { i } }]))
  await Promise.all(issued)
  await done
  const elapsed = performance.now() - began
  const rounds = waker.wakes - wakesBefore
  const spacing = Math.min(WAKE_SPACING_MAX_MS, followers * WAKE_SPACING_PER_FOLLOWER_MS)
  t.ok(seen.every(types => types.length === appends && types.every((type, i) => type === `test.${i}`)), 'every follower got every event, in order')
  t.ok(rounds <= Math.floor(elapsed / spacing) + 1, `${rounds} wake rounds in ${Math.round(elapsed)} ms: at most one per ${spacing} ms`)
  t.ok(rounds < appends, `${appends} appends woke the followers in ${rounds} rounds`)
})

t.test('a lone follower is woken at once', { timeout: 60_000 }, async t => {
  const backend = await embeddedBackend(t)
  const waker = new EventWaker(backend, 10_000, (err) => { throw err })
  t.teardown(() => waker.close())
  const pages = new EventPages(backend)
  const start = (await backend.appendEvents([{ type: 'test.start', data: {} }]))[0]!.id
  const controller = new AbortController()
  t.teardown(() => controller.abort())
  const events = followEvents(backend, pages, waker, new EventTail(backend), start, controller.signal)
  const first = events.next()
  await new Promise(resolve => setTimeout(resolve, 300))
  const appended = performance.now()
  await backend.appendEvents([{ type: 'test.one', data: {} }])
  const result = await first
  t.equal(result.value?.type, 'test.one')
  // the guard poll is 5 s: an answer well before it came from the notification, not held back
  t.ok(performance.now() - appended < 4_000, `delivered ${Math.round(performance.now() - appended)} ms after the append`)
})

t.test('on the Postgres server, 300 followers and 200 appends from 40 concurrent writers: every event to every follower, reads shared', { timeout: 120_000 }, async t => {
  const server = await serverBackend(t)
  let reads = 0
  // readEvents counted, the real call made
  const backend = new Proxy(server, {
    get (target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown
      if (prop === 'readEvents' && typeof value === 'function') return (...args: unknown[]) => { reads++; return (value as (...a: unknown[]) => unknown).apply(target, args) }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    }
  })
  const waker = new EventWaker(backend, 500, (err) => { throw err })
  t.teardown(() => waker.close())
  const start = (await backend.appendEvents([{ type: 'test.start', data: {} }]))[0]!.id
  const followers = 300
  const appends = 200
  const writers = 40
  const { seen, done } = startFollowers(t, backend, waker, start, followers, appends, e => e.id)
  await new Promise(resolve => setTimeout(resolve, 500))
  const readsBefore = reads
  const wakesBefore = waker.wakes
  // concurrent transactions on the pool: pages commit out of position order and are held
  // back until the transactions before them end (the path the PGlite tests never take)
  let next = 0
  await Promise.all(Array.from({ length: writers }, async () => {
    while (next < appends) { const i = next++; await backend.appendEvents([{ type: `test.${i}`, data: { i } }]) }
  }))
  await done
  const rounds = waker.wakes - wakesBefore
  const readsDuring = reads - readsBefore
  const log = (await backend.readEvents({ afterId: start, limit: appends + 10 })).map(e => e.id)
  t.equal(log.length, appends)
  t.ok(seen.every(ids => ids.length === appends && ids.every((id, i) => id === log[i])), 'every follower got the log as it reads back: same ids, same order, none twice')
  // followers at one position share a read (one readEvents call, which also waits for
  // pages held back by running transactions): the reads follow the rounds and the
  // positions the followers stand at, not the number of followers
  t.ok(readsDuring <= 3 * rounds + 10, `${readsDuring} event-log reads for ${rounds} wake rounds`)
  t.ok(readsDuring < followers / 10, `${readsDuring} reads for ${followers} followers`)
  t.ok(readsDuring < appends / 2, `${readsDuring} reads for ${appends} appends and ${followers} followers (${(readsDuring / appends).toFixed(2)} per append)`)
})
