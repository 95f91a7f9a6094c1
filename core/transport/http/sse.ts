import type { FastifyReply } from 'fastify'
import type { EventStream } from '../../admin/types.ts'
import type { AdminEventT } from '../../contract/messages.ts'
import { toErrorEnvelope } from '../../contract/errors.ts'

// StreamEvents as Server-Sent Events: `id:` is the event id (a reconnecting
// EventSource sends it back as Last-Event-ID and the service replays from the
// persisted event log), `event:` is the type, `data:` is the AdminEvent as JSON.
//
// Many subscribers receive the same events: the service hands every follower the
// same event objects, so each event is formatted once, whoever sends it. The events
// a stream has at hand (a page just read) go out in one write rather than one each:
// a thousand subscribers times a burst of events is otherwise as many TLS records
// and socket writes. A subscriber whose client reads slowly waits for its socket to
// drain before taking more events, so it holds at most one batch beyond the socket's
// buffer, and its follower stops reading the log meanwhile. A stream that offers its
// events a page at a time (StreamEvents does) is written a page per write, the page's
// text shared by every stream at that position: no work per event and subscriber.

/** a batch is written once it reaches this many characters, even if more events are at hand */
const BATCH_CHARS = 64 * 1024

const formatted = new WeakMap<AdminEventT, string>()
/** a page's text, keyed by the page array every stream at that position shares */
const formattedPages = new WeakMap<readonly AdminEventT[], string>()

/** one SSE message; the event's data is JSON, which holds no line break */
function sseText (event: AdminEventT): string {
  let text = formatted.get(event)
  if (text === undefined) {
    text = `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`
    formatted.set(event, text)
  }
  return text
}

/** the SSE text of a page of events, formatted once for every stream that sends it */
function pageText (page: readonly AdminEventT[]): string {
  let text = formattedPages.get(page)
  if (text === undefined) {
    text = page.map(sseText).join('')
    formattedPages.set(page, text)
  }
  return text
}

/** resolves once the response can take more, or can take nothing any more; leaves no listener behind */
function drainedOrClosed (raw: FastifyReply['raw']): Promise<void> {
  return new Promise(resolve => {
    const done = (): void => {
      raw.off('drain', done)
      raw.off('close', done)
      raw.off('error', done)
      resolve()
    }
    raw.on('drain', done)
    raw.on('close', done)
    raw.on('error', done)
  })
}

const NOT_YET = Symbol('not yet')

/** resolves to NOT_YET once this turn of the event loop is over */
function endOfTurn (): Promise<typeof NOT_YET> {
  return new Promise(resolve => setImmediate(resolve, NOT_YET))
}

/**
 * Streams after `stream.ready` settled (the caller awaited it, so an authorisation
 * error was answered as JSON). A failure after the headers went out can only be
 * told in the stream: it ends with an `error` event carrying the error envelope.
 */
export async function pipeEvents (reply: FastifyReply, stream: EventStream, requestId: string, onUnexpected: (err: unknown) => void): Promise<void> {
  reply.sse.sendHeaders()
  // writeHead only queues the head; the client should see the stream open before the first event.
  reply.raw.flushHeaders()
  const raw = reply.raw
  if (stream.pages !== undefined) {
    await pipePages(reply, stream.pages(), requestId, onUnexpected)
    return
  }
  const iterator = stream[Symbol.asyncIterator]()
  let batch = ''
  /** writes the batch; false once the client is gone */
  const flush = async (): Promise<boolean> => {
    if (batch === '') return reply.sse.isConnected
    if (!reply.sse.isConnected || raw.destroyed) return false
    const text = batch
    batch = ''
    // wait for the client to take it (or leave): no more events are read meanwhile
    if (!raw.write(text)) await drainedOrClosed(raw)
    return reply.sse.isConnected && !raw.destroyed
  }
  try {
    let pending = iterator.next()
    // One end-of-turn per batch, not per event: the events ready within the turn join
    // the batch (a thousand streams times a page of events would otherwise be as many
    // immediates and races on the loop).
    let turn: Promise<typeof NOT_YET> | null = null
    for (;;) {
      let result: IteratorResult<AdminEventT> | typeof NOT_YET
      if (batch === '') {
        turn = null
        result = await pending
      } else {
        turn ??= endOfTurn()
        result = await Promise.race([pending, turn])
      }
      if (result === NOT_YET) {
        turn = null
        if (!await flush()) return
        result = await pending
      }
      if (result.done === true) break
      batch += sseText(result.value)
      if (batch.length >= BATCH_CHARS && !await flush()) return
      pending = iterator.next()
    }
    await flush()
  } catch (err) {
    if (!reply.sse.isConnected || raw.destroyed) return
    onUnexpected(err)
    // the events read before the failure go out first
    await flush().catch(() => {})
    await reply.sse.send({ event: 'error', data: toErrorEnvelope(err, requestId) }).catch(() => {})
  } finally {
    await iterator.return?.(undefined)
  }
}

/**
 * A page at a time: one write per page, its text formatted once whichever streams
 * send it. The next page is read only once the client took this one (or left).
 */
async function pipePages (reply: FastifyReply, pages: AsyncIterable<readonly AdminEventT[]>, requestId: string, onUnexpected: (err: unknown) => void): Promise<void> {
  const raw = reply.raw
  const iterator = pages[Symbol.asyncIterator]()
  try {
    for (;;) {
      const result = await iterator.next()
      if (result.done === true) return
      if (!reply.sse.isConnected || raw.destroyed) return
      if (!raw.write(pageText(result.value))) await drainedOrClosed(raw)
      if (!reply.sse.isConnected || raw.destroyed) return
    }
  } catch (err) {
    if (!reply.sse.isConnected || raw.destroyed) return
    onUnexpected(err)
    await reply.sse.send({ event: 'error', data: toErrorEnvelope(err, requestId) }).catch(() => {})
  } finally {
    await iterator.return?.(undefined)
  }
}
