// A container's output as job.output events: gathered, cut into bounded events, never
// past the cap, multi-byte characters kept whole across cuts, and the marker last.
import t from 'tap'
import { OutputEvents } from './runner-output.ts'

function collector (options: { maxBytes: number, chunkBytes: number, flushMs?: number }): { events: OutputEvents, batches: string[][] } {
  const batches: string[][] = []
  const events = new OutputEvents({
    ...options,
    flushMs: options.flushMs ?? 20,
    send: async (texts) => { batches.push(texts) },
    onError: (err) => { throw err }
  })
  return { events, batches }
}

t.test('output gathered between flushes goes out as events of at most chunkBytes', async t => {
  const { events, batches } = collector({ maxBytes: 1000, chunkBytes: 10 })
  for (let i = 0; i < 5; i++) events.push(new TextEncoder().encode('abcdefg'))
  await new Promise(resolve => setTimeout(resolve, 60))
  t.equal(batches.length, 1, 'one batch for writes within one flush interval')
  t.same(batches[0], ['abcdefgabc', 'defgabcdef', 'gabcdefgab', 'cdefg'])
  await events.close()
  t.equal(batches.length, 1, 'nothing left to send at close')
})

t.test('never more than maxBytes, then the trailer (the truncation marker) last', async t => {
  const { events, batches } = collector({ maxBytes: 25, chunkBytes: 10, flushMs: 10_000 })
  for (let i = 0; i < 100; i++) events.push(new TextEncoder().encode('0123456789'))
  t.equal(events.bytes, 25)
  await events.close('[cut]')
  const texts = batches.flat()
  t.same(texts, ['0123456789', '0123456789', '01234', '[cut]'])
})

t.test('a character cut between writes and between events stays whole', async t => {
  const { events, batches } = collector({ maxBytes: 1000, chunkBytes: 5, flushMs: 10_000 })
  const bytes = new TextEncoder().encode('ab€cd€€') // € is 3 bytes
  events.push(bytes.subarray(0, 3))
  events.push(bytes.subarray(3, 9))
  events.push(bytes.subarray(9))
  await events.close()
  t.equal(batches.flat().join(''), 'ab€cd€€')
  for (const text of batches.flat()) t.ok(!text.includes('\ufffd'), `no replacement character in ${JSON.stringify(text)}`)
})

t.test('NUL bytes are made storable on every backend', async t => {
  const { events, batches } = collector({ maxBytes: 100, chunkBytes: 100 })
  events.push(new Uint8Array([0x61, 0x00, 0x62]))
  await events.close()
  t.same(batches.flat(), ['a\ufffdb'])
})

t.test('a failed send is reported and later output still flows', async t => {
  const errors: unknown[] = []
  const sent: string[] = []
  let calls = 0
  const events = new OutputEvents({
    maxBytes: 100,
    chunkBytes: 100,
    flushMs: 5,
    send: async (texts) => { if (calls++ === 0) throw new Error('backend down'); sent.push(...texts) },
    onError: (err) => { errors.push(err) }
  })
  events.push(new TextEncoder().encode('first'))
  await new Promise(resolve => setTimeout(resolve, 40))
  events.push(new TextEncoder().encode('second'))
  await events.close()
  t.equal(errors.length, 1)
  t.same(sent, ['second'])
})
