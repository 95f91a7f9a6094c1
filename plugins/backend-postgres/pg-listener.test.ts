// The LISTEN connection of the pg client when its connection drops and it reconnects
// while the client is being closed or its last channel unlistened. The client reaches
// the server through a TCP relay in this test, which cuts the connection (as a server
// restart would) and holds the reconnect until the test lets it through, so the close
// or unlisten lands while the reconnect is under way. No connection may outlive them:
// an open socket nobody ends keeps the process alive after its work is done.
import t, { type Test } from 'tap'
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { createWorker } from '@switchyard/core'
import { createPostgresBackend } from './index.ts'
import { createPgClient } from './pg-client.ts'
import { dropSchema, TEST_POSTGRES_URL, testSchema, waitUntil } from './test-support.ts'

interface Relay {
  url: string
  /** client connections the relay has open */
  open: () => number
  /** new connections wait until let through */
  holding: boolean
  held: () => number
  letThrough: () => void
  /** stops forwarding in both directions: every connection goes silent (a stalled network) */
  stall: () => void
  cut: () => void
  close: () => Promise<void>
}

async function relay (t: Test): Promise<Relay> {
  const target = new URL(TEST_POSTGRES_URL)
  const clients = new Set<net.Socket>()
  const waiting: Array<() => void> = []
  let stalled = false
  const server = net.createServer(client => {
    clients.add(client)
    client.on('close', () => clients.delete(client))
    client.on('error', () => {})
    const connect = (): void => {
      if (client.destroyed) return
      const upstream = net.connect(Number(target.port === '' ? 5432 : target.port), target.hostname)
      upstream.on('error', () => {})
      upstream.on('close', () => client.destroy())
      client.on('close', () => upstream.destroy())
      client.on('data', data => { if (!stalled) upstream.write(data) })
      upstream.on('data', data => { if (!stalled) client.write(data) })
    }
    // the client's startup message stays buffered in its socket until then
    if (r.holding) waiting.push(connect)
    else connect()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const url = new URL(TEST_POSTGRES_URL)
  url.hostname = '127.0.0.1'
  url.port = String((server.address() as net.AddressInfo).port)
  const r: Relay = {
    url: url.toString(),
    open: () => clients.size,
    holding: false,
    held: () => waiting.length,
    letThrough: () => { r.holding = false; for (const connect of waiting.splice(0)) connect() },
    stall: () => { stalled = true },
    cut: () => { for (const c of clients) c.destroy() },
    close: async () => {
      for (const c of clients) c.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  }
  t.teardown(() => r.close())
  return r
}

async function droppedAndReconnecting (t: Test, r: Relay): Promise<void> {
  t.equal(r.open(), 1, 'one connection: the listener')
  r.holding = true
  r.cut()
  await waitUntil(async () => r.held() === 1, 'the listener to reconnect after the drop')
}

t.test('close() during a reconnect of the listener: the new connection is ended, close waits for it', async t => {
  const r = await relay(t)
  const client = createPgClient({ connectionString: r.url, poolSize: 1, statementTimeoutMs: 10_000, settings: {} })
  await client.listen(`sy_listener_${randomBytes(4).toString('hex')}`, () => {})
  await droppedAndReconnecting(t, r)
  let closed = false
  const closing = client.close().then(() => { closed = true })
  await new Promise(resolve => setTimeout(resolve, 100))
  t.equal(closed, false, 'close waits for the connect under way')
  r.letThrough()
  await closing
  await waitUntil(async () => r.open() === 0, 'the reconnected listener to be ended', 5_000)
  t.pass('no connection left open')
})

t.test('the last channel unlistened during a reconnect: the new connection is ended', async t => {
  const r = await relay(t)
  const client = createPgClient({ connectionString: r.url, poolSize: 1, statementTimeoutMs: 10_000, settings: {} })
  t.teardown(() => client.close())
  const unlisten = await client.listen(`sy_listener_${randomBytes(4).toString('hex')}`, () => {})
  await droppedAndReconnecting(t, r)
  await unlisten()
  r.letThrough()
  await waitUntil(async () => r.open() === 0, 'the reconnected listener to be ended', 5_000)
  t.pass('no connection left open')

  // listening again connects afresh and hears notifications
  const channel = `sy_listener_${randomBytes(4).toString('hex')}`
  const heard: string[] = []
  await client.listen(channel, payload => heard.push(payload))
  await client.exec(`NOTIFY ${channel}, 'again'`)
  await waitUntil(async () => heard.includes('again'), 'the notification on a fresh listener')
  t.same(heard, ['again'])
})

t.test('a worker stops within its backend timeout when its UNLISTEN gets no answer', async t => {
  const r = await relay(t)
  const schema = testSchema()
  // queries of this backend would wait a minute for an answer: the worker's own bound must end stop()
  const backend = createPostgresBackend({ connectionString: r.url, schema, poolSize: 2, statementTimeoutMs: 60_000 })
  await backend.init()
  t.teardown(async () => {
    await r.close()
    await backend.close()
    await dropSchema(schema)
  })
  const silent = { info () {}, warn () {}, error () {}, debug () {} }
  const worker = createWorker({ backend, handlers: {}, options: { queues: ['stall'], pollMs: 50, backendTimeoutMs: 300, shutdownGraceMs: 100 }, log: silent })
  await worker.start()
  await waitUntil(async () => r.open() >= 2, 'the worker to listen for work')
  r.stall()
  const started = Date.now()
  await worker.stop()
  const took = Date.now() - started
  t.ok(took < 10_000, `stop() ended in ${took} ms though nothing answers`)
})
