// The SSE splitter reads lines ending in LF, CR or CRLF however the chunks cut them,
// including a CRLF split between two chunks and a UTF-8 character split between two
// reads, and answers a chunk's messages together.
import { Readable } from 'node:stream'
import t from 'tap'
import { parseSse, parseSseChunks, SseSplitter, type SseMessage } from './sse-parser.ts'

async function collect (chunks: Array<string | Buffer>): Promise<SseMessage[]> {
  const out: SseMessage[] = []
  for await (const message of parseSse(Readable.from(chunks.map(c => typeof c === 'string' ? Buffer.from(c) : c)))) out.push(message)
  return out
}

t.test('every line ending, cut at every place, gives the same messages', async t => {
  const stream = ': heartbeat\nid: 1\nevent: a\ndata: x\r\ndata: y\r\n\r\nid: 2\rdata: z\r\rdata:no space\n\n'
  const expected = [{ id: '1', event: 'a', data: 'x\ny' }, { id: '2', event: 'message', data: 'z' }, { event: 'message', data: 'no space' }]
  t.same(await collect([stream]), expected, 'one chunk')
  for (let cut = 1; cut < stream.length; cut++) {
    const got = await collect([stream.slice(0, cut), stream.slice(cut)])
    if (JSON.stringify(got) !== JSON.stringify(expected)) t.fail(`cut at ${cut} (${JSON.stringify(stream.slice(cut - 1, cut + 1))}): ${JSON.stringify(got)}`)
  }
  t.same(await collect(stream.split('')), expected, 'a character at a time')
})

t.test('a lone CR at the end of a chunk waits: the next chunk may complete a CRLF', async t => {
  const splitter = new SseSplitter()
  t.same(splitter.push('data: a\r'), [])
  t.same(splitter.push('\n\r'), [], 'CRLF ends the data line; the CR after it may still be a CRLF')
  t.same(splitter.push('\n'), [{ event: 'message', data: 'a' }], 'the blank line dispatches')
  t.same(splitter.push('data: b\r\r'), [], 'CR CR at the end: the second CR still waits')
  t.same(splitter.push('data: c'), [{ event: 'message', data: 'b' }], 'CR CR: a line and a blank line')
})

t.test('a UTF-8 character split between two reads is decoded whole', async t => {
  const bytes = Buffer.from('data: grüße €\n\n')
  const at = bytes.indexOf(0xe2) + 1 // inside the three bytes of €
  t.same(await collect([bytes.subarray(0, at), bytes.subarray(at)]), [{ event: 'message', data: 'grüße €' }])
})

t.test('an id holding NUL is ignored, field names without a colon count, an unfinished message is dropped', async t => {
  t.same(await collect(['id: a\0b\ndata\n\n', 'data: cut off']), [{ event: 'message', data: '' }])
})

t.test('a chunk\'s messages come together', async t => {
  const batches: SseMessage[][] = []
  for await (const messages of parseSseChunks(Readable.from([Buffer.from('data: 1\n\ndata: 2\n\ndata: 3'), Buffer.from('\n\n')]))) batches.push(messages)
  t.same(batches.map(b => b.map(m => m.data)), [['1', '2'], ['3']])
})
