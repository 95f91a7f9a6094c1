import https from 'node:https'
import type { IncomingMessage } from 'node:http'
import t from 'tap'
import { serverBackend, waitFor } from '../../core/admin/test-support.ts'
import type { AdminService, EventStream } from '../../core/admin/types.ts'
import type { Backend } from '../../core/backend/types.ts'
import { parseSse } from '../../core/transport/sse-parser.ts'
import { adminService, gatewayFor, makeCerts, portOf, readSse, type ClientIdentity } from './support.ts'

// The event stream under many subscribers and slow ones: followers share their reads
// of the log, and a subscriber that does not read holds the stream where it is
// instead of buffering the log in the gateway, then gets every event once it reads.

/** the backend, counting readEvents calls (the real calls go through) */
function countingReads (backend: Backend): { backend: Backend, reads: () => number } {
  let reads = 0
  const counted = new Proxy(backend, {
    get (target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown
      if (prop === 'readEvents' && typeof value === 'function') {
        return (...args: unknown[]) => { reads++; return (value as (...a: unknown[]) => unknown).apply(target, args) }
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    }
  })
  return { backend: counted, reads: () => reads }
}

/** the same service, counting the events its streams handed to the transport */
function countingYields (service: AdminService): { admin: AdminService, yielded: () => number } {
  let yielded = 0
  const admin: AdminService = {
    ...service,
    StreamEvents: (request, call) => {
      const inner: EventStream = service.StreamEvents(request, call)
      const innerPages = inner.pages
      return {
        ready: inner.ready,
        async * [Symbol.asyncIterator] () {
          for await (const event of inner) { yielded++; yield event }
        },
        // the page path, which the SSE transport takes when the stream offers it
        ...(innerPages === undefined ? {} : {
          async * pages () {
            for await (const page of innerPages()) { yielded += page.length; yield page }
          }
        })
      }
    }
  }
  return { admin, yielded: () => yielded }
}

function openStream (address: string, identity: ClientIdentity, lastEventId: string): Promise<{ response: IncomingMessage, close: () => void }> {
  return new Promise((resolve, reject) => {
    const request = https.request({
      host: '127.0.0.1',
      port: portOf(address),
      path: '/admin/v1/events',
      agent: false,
      ca: identity.ca,
      cert: identity.cert,
      key: identity.key,
      headers: { accept: 'text/event-stream', 'last-event-id': lastEventId }
    }, response => resolve({ response, close: () => request.destroy() }))
    request.on('error', reject)
    request.end()
  })
}

async function newestId (backend: Backend): Promise<string> {
  const [newest] = await backend.readEventsNewestFirst!({ beforeId: null, limit: 1 })
  return newest?.id ?? '0'
}

t.test('SSE: subscribers woken by the same append share one read of the log', async t => {
  const counted = countingReads(await serverBackend(t))
  const certs = await makeCerts(t)
  const open = adminService(t, counted.backend)
  const gateway = await gatewayFor(t, open.service, certs)
  const after = await newestId(counted.backend)
  const subscribers = 20
  const streams: Array<ReturnType<typeof readSse>> = []
  let opened = 0
  const everyoneOpen = new Promise<void>(resolve => {
    const onOpen = (): void => { if (++opened === subscribers) resolve() }
    for (let i = 0; i < subscribers; i++) {
      streams.push(readSse(gateway.address, certs.admin, { lastEventId: after, onOpen, until: events => events.length >= 3, timeoutMs: 30_000 }))
    }
  })
  await everyoneOpen
  // every follower has read once (nothing yet) and waits for a notification
  await new Promise(resolve => setTimeout(resolve, 300))
  const before = counted.reads()
  for (const type of ['test.a', 'test.b', 'test.c']) open.events.emit(type, {})
  await open.events.flush()
  const results = await Promise.all(streams)
  for (const result of results) t.same(result.events.map(e => e.event), ['test.a', 'test.b', 'test.c'], 'every subscriber got every event, in order')
  t.ok(counted.reads() - before < subscribers, `${subscribers} subscribers read the log ${counted.reads() - before} times for one append, not once each`)
})

t.test('SSE: a subscriber that does not read holds its stream (bounded), then gets every event in order once it reads', { timeout: 240_000 }, async t => {
  const backend = await serverBackend(t)
  const certs = await makeCerts(t)
  const open = adminService(t, backend)
  const counted = countingYields(open.service)
  const gateway = await gatewayFor(t, counted.admin, certs)
  const after = await newestId(backend)
  const { response, close } = await openStream(gateway.address, certs.admin, after)
  t.teardown(close)
  t.equal(response.statusCode, 200)
  response.pause()

  // ~24 MB of events: far more than the socket buffers between the gateway and a client that stopped reading
  const total = 6_000
  const padding = 'x'.repeat(4000)
  for (let i = 0; i < total; i++) open.events.emit('test.bulk', { i, padding })
  await open.events.flush()
  let last = -1
  await waitFor(async () => {
    const now = counted.yielded()
    const still = now === last
    last = now
    await new Promise(resolve => setTimeout(resolve, 500))
    return still
  }, 'the stream to stop taking events while its client does not read', 60_000)
  t.ok(counted.yielded() < total / 2, `the gateway took ${counted.yielded()} of ${total} events for a client that read none`)

  const seen: number[] = []
  // iterating reads the paused response (resume() would drop what arrives before a listener)
  for await (const message of parseSse(response)) {
    if (message.event !== 'test.bulk') continue
    seen.push((JSON.parse(message.data) as { data: { i: number } }).data.i)
    if (seen.length === total) break
  }
  close()
  t.equal(seen.length, total, 'every event arrived once the client read')
  t.ok(seen.every((value, index) => value === index), 'in order, none twice')
})
