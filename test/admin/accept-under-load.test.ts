import https from 'node:https'
import tls from 'node:tls'
import t from 'tap'
import { embeddedBackend } from '../../core/admin/test-support.ts'
import { adminService, gatewayFor, makeCerts, portOf, readSse, type ClientIdentity } from './support.ts'

// New connections to a gateway on the embedded PGlite while its database is flooded and
// SSE subscribers follow the log. On the main thread a PGlite statement runs
// synchronously and the gate started the next call from the answer of the last, so a
// flood of enqueues ran in one drain of the microtask queue and the event loop turned
// only between batches; Node accepts one new connection per turn of the loop, so
// clients connecting meanwhile waited seconds to tens of seconds for their handshake
// (the under-load benchmark: an enqueue without an answer in 30 s). The gate now
// gives the loop a turn every slice (plugins/backend-postgres/pglite-gate.ts).

const SUBSCRIBERS = 100
const ENQUEUERS = 40
const NEW_CONNECTIONS = 20

/** a mutual-TLS connection opened and closed: ms from connect() to the finished handshake */
function handshake (address: string, identity: ClientIdentity): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const socket = tls.connect({ host: '127.0.0.1', port: portOf(address), ca: identity.ca, cert: identity.cert, key: identity.key, servername: 'localhost' })
    socket.setTimeout(60_000, () => socket.destroy(new Error('no handshake within 60 s')))
    socket.once('secureConnect', () => { resolve(performance.now() - started); socket.destroy() })
    socket.once('error', reject)
  })
}

t.test('PGlite on the main thread: a flood of enqueues under SSE subscribers leaves new connections accepted promptly', { timeout: 180_000 }, async t => {
  const backend = await embeddedBackend(t)
  const certs = await makeCerts(t)
  const open = adminService(t, backend)
  const { address } = await gatewayFor(t, open.service, certs)

  // subscribers following the log until the test ends (each stream a page write per round)
  let opened = 0
  let stopStreams = false
  const streams: Array<Promise<unknown>> = []
  await new Promise<void>(resolve => {
    for (let i = 0; i < SUBSCRIBERS; i++) {
      streams.push(readSse(address, certs.admin, { onOpen: () => { if (++opened === SUBSCRIBERS) resolve() }, until: () => stopStreams, timeoutMs: 170_000 }))
    }
  })

  // the flood: ENQUEUERS clients on kept-alive connections, each enqueueing again as soon as answered
  const agent = new https.Agent({ keepAlive: true, ca: certs.admin.ca, cert: certs.admin.cert, key: certs.admin.key })
  t.teardown(() => agent.destroy())
  const enqueue = (i: number): Promise<void> => new Promise((resolve, reject) => {
    const body = JSON.stringify({ queue: 'flood', handler: 'test.flood', payload: { i } })
    const request = https.request({ host: '127.0.0.1', port: portOf(address), method: 'POST', path: '/admin/v1/tasks', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 60_000 }, response => {
      response.resume()
      response.on('end', () => { response.statusCode === 200 ? resolve() : reject(new Error(`enqueue answered ${String(response.statusCode)}`)) })
    })
    request.on('timeout', () => request.destroy(new Error('enqueue: no answer within 60 s')))
    request.on('error', reject)
    request.end(body)
  })
  let flooding = true
  let enqueued = 0
  let failure: unknown = null
  const flood = Promise.all(Array.from({ length: ENQUEUERS }, async () => {
    while (flooding) { await enqueue(enqueued); enqueued++ }
  })).catch((err: unknown) => { failure = err; flooding = false })
  // the flood's connections are open and the database busy before the new clients come
  while (enqueued < ENQUEUERS * 3 && failure === null) await new Promise(resolve => setTimeout(resolve, 20))

  const before = enqueued
  const handshakes = await Promise.all(Array.from({ length: NEW_CONNECTIONS }, async () => await handshake(address, certs.admin)))
  const during = enqueued - before
  flooding = false
  await flood
  // one more event ends every stream (each checks on what it receives)
  stopStreams = true
  await enqueue(-1)
  const ended = await Promise.allSettled(streams)
  t.ok(ended.every(s => s.status === 'fulfilled'), 'every subscriber followed the log to the end')
  t.equal(failure, null, 'every enqueue of the flood was answered')

  const slowest = Math.max(...handshakes)
  t.ok(during > 0, `the database stayed busy meanwhile: ${during} enqueues answered while ${NEW_CONNECTIONS} clients connected`)
  // Before the gate's slices the loop turned (and accepted one connection) once per round
  // of every enqueue in flight: 20 connections waited 5.1-10.7 s (659 enqueues answered
  // meanwhile, three runs); with the slices 1.4-1.6 s (three runs, load average 3-8).
  t.ok(slowest < 3_000, `${NEW_CONNECTIONS} new connections finished their handshakes within ${Math.round(slowest)} ms while the flood went on (${during} enqueues answered meanwhile)`)
})
