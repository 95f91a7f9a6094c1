import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { createBullMQBackend } from './index.ts'

// The event log keeps a batch of events per stream entry; these cases cover what the
// shared conformance suite cannot see: the cap counted in events, reading from the
// middle of a batch, and ids from a trimmed part of the log.

const URL = 'redis://127.0.0.1:6379'

/** a backend with its own prefix whose log keeps 10 events, and a plain connection to look at the keys */
async function cappedBackend (t: Test): Promise<{ backend: ReturnType<typeof createBullMQBackend>, redis: Redis }> {
  const prefix = `syevents${randomBytes(5).toString('hex')}`
  const backend = createBullMQBackend({ url: URL, prefix, maxEvents: 10 })
  const redis = new Redis(URL)
  t.teardown(async () => {
    await backend.destroyAllData()
    await backend.close()
    redis.disconnect()
  })
  await backend.init()
  return { backend, redis }
}

t.test('a batch is one stream entry; the cap counts events and keeps whole batches', async t => {
  const { backend, redis } = await cappedBackend(t)
  const appended = []
  for (let b = 0; b < 8; b++) appended.push(...await backend.appendEvents([0, 1, 2].map(k => ({ type: 'test.tick', data: { b, k } }))))
  t.equal(await redis.xlen(backend.keys.events), 4, 'only the newest batches stay: 4 entries of 3 events (10 kept at least, never more than 10 + one batch)')
  t.equal(Number(await redis.get(backend.keys.eventCount)), 12, 'the event count matches what the stream holds')
  const all = await backend.readEvents({ afterId: null, limit: 100 })
  t.same(all, appended.slice(-12), 'reading from the oldest gives exactly the kept events, in order')

  const middle = all[4]!
  t.match(middle.id, /^\d+-\d+:1$/, 'an event id names its entry and its place in the batch')
  t.same(await backend.readEvents({ afterId: middle.id, limit: 3 }), all.slice(5, 8), 'afterId in the middle of a batch resumes right after it, across batches, limit honoured')
  t.same(await backend.readEvents({ afterId: appended[0]!.id, limit: 2 }), all.slice(0, 2), 'afterId from the trimmed past resumes at the oldest kept event')
  t.same(await backend.readEvents({ afterId: all[11]!.id, limit: 5 }), [], 'after the newest: nothing')

  await t.rejects(backend.readEvents({ afterId: '1700000000000-0', limit: 1 }), { code: 'VALIDATION_FAILED', message: /afterId/ }, 'an id this backend did not issue is refused, naming the field')
})

t.test('reading pages through many small batches and few large ones alike', async t => {
  const prefix = `syevents${randomBytes(5).toString('hex')}`
  const backend = createBullMQBackend({ url: URL, prefix })
  t.teardown(async () => {
    await backend.destroyAllData()
    await backend.close()
  })
  await backend.init()
  const small = []
  for (let i = 0; i < 150; i++) small.push(...await backend.appendEvents([{ type: 'test.one', data: i }]))
  const large = await backend.appendEvents(Array.from({ length: 500 }, (_, i) => ({ type: 'test.many', data: i })))
  const read = await backend.readEvents({ afterId: null, limit: 1000 })
  t.same(read, [...small, ...large], '150 one-event entries and a 500-event entry read back in one call')
  t.same(await backend.readEvents({ afterId: small[149]!.id, limit: 7 }), large.slice(0, 7), 'a limit smaller than a batch takes its head')
})

t.test('trimming reads the entry index; entries from before the index are walked and trimmed, then the index alone serves', async t => {
  const { backend, redis } = await cappedBackend(t)
  const k = backend.keys
  // two entries written before the index existed (no index items), counted
  for (let b = 0; b < 2; b++) await redis.xadd(k.events, '*', 'n', '3', 'b', JSON.stringify([0, 1, 2].map(j => ['test.old', { b, j }])))
  await redis.set(k.eventCount, 6)
  const appended = []
  for (let b = 0; b < 6; b++) appended.push(...await backend.appendEvents([0, 1, 2].map(j => ({ type: 'test.tick', data: { b, j } }))))
  t.equal(await redis.xlen(k.events), 4, 'the older entries went first; 4 entries of 3 events stay')
  t.equal(Number(await redis.get(k.eventCount)), 12, 'the count matches what the stream holds')
  const entries = (await redis.xrange(k.events, '-', '+')).map(([id]) => id)
  t.same(await redis.lrange(k.eventIndex, 0, -1), entries.map(id => `${id} 3`), 'the index lists exactly the kept entries with their counts')
  t.same(await backend.readEvents({ afterId: null, limit: 100 }), appended.slice(-12), 'the newest events are read back')

  // an entry taken back leaves the index too, so trimming stays on the index
  const [last] = await backend.appendEvents([{ type: 'test.undo', data: 1 }])
  const entry = last!.id.slice(0, last!.id.indexOf(':'))
  // what an enqueue whose jobs were not added does with its events (backend.ts)
  await (backend as unknown as { own: { removeEventEntry: (entry: string, events: number) => Promise<boolean> } }).own.removeEventEntry(entry, 1)
  const kept = await redis.xrange(k.events, '-', '+')
  t.same(await redis.lrange(k.eventIndex, 0, -1), kept.map(([id, fields]) => `${id} ${fields[1]}`), 'the index lists the entries left after a removal')
  t.equal(Number(await redis.get(k.eventCount)), kept.reduce((sum, [, fields]) => sum + Number(fields[1]), 0), 'and the count their events')
})
