import type { FastifyReply } from 'fastify'
import type { EventStream } from '../../admin/types.ts'
import type { AdminEventT } from '../../contract/messages.ts'
import { toErrorEnvelope } from '../../contract/errors.ts'

// StreamEvents as Server-Sent Events: `id:` is the event id (a reconnecting
// EventSource sends it back as Last-Event-ID and the service replays from the
// persisted event log), `event:` is the type, `data:` is the AdminEvent as JSON.

interface SseMessage {
  id: string
  event: string
  data: AdminEventT
}

async function * asMessages (stream: EventStream): AsyncGenerator<SseMessage> {
  for await (const event of stream) yield { id: event.id, event: event.type, data: event }
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
  try {
    await reply.sse.send(asMessages(stream))
  } catch (err) {
    if (!reply.sse.isConnected) return
    onUnexpected(err)
    await reply.sse.send({ event: 'error', data: toErrorEnvelope(err, requestId) }).catch(() => {})
  }
}
