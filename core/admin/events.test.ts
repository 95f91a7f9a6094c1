// Event followers woken by a stream of appends: wakes are spaced by the number of
// waiting followers, so a thousand followers get a burst in a few rounds (each round
// one shared read and one write per stream) rather than one round per append, and
// no append is left undelivered.
import { setMaxListeners } from 'node:events'
import t from 'tap'
import { embeddedBackend } from './test-support.ts'
import { EventPages, EventTail, EventWaker, followEvents, WAKE_SPACING_MAX_MS, WAKE_SPACING_PER_FOLLOWER_MS } from './events.ts'

t.test('a burst of appends wakes many followers in spaced rounds, and every follower gets every event', { timeout: 120_000 }, async t => {
  const backend = await embeddedBackend(t)
  const waker = new EventWaker(backend, 500, (err) => { throw err })
  t.teardown(() => waker.close())
  const pages = new EventPages(backend)
  const tail = new EventTail(backend)
  const start = (await backend.appendEvents([{ type: 'test.start', data: {} }]))[0]!.id
  const followers = 1000
  const appends = 30
  const controller = new AbortController()
  // every follower listens on the one signal, as the streams of one gateway each on their own
  setMaxListeners(followers + 10, controller.signal)
  t.teardown(() => controller.abort())
  const seen = Array.from({ length: followers }, () => [] as string[])
  const done = seen.map(async (into) => {
    for await (const event of followEvents(backend, pages, waker, tail, start, controller.signal)) {
      into.push(event.type)
      if (into.length === appends) return
    }
  })
  // every follower has read once (nothing yet) and waits
  await new Promise(resolve => setTimeout(resolve, 500))
  const wakesBefore = waker.wakes
  const began = performance.now()
  // issued together, they commit one after another on the one connection, each notifying
  const issued: Array<Promise<unknown>> = []
  for (let i = 0; i < appends; i++) issued.push(backend.appendEvents([{ type: `test.${i}`, data: { i } }]))
  await Promise.all(issued)
  await Promise.all(done)
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
