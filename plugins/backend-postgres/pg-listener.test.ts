// The LISTEN connection of the pg client when its connection drops and it reconnects
// while the client is being closed or its last channel unlistened. The client reaches
// the server through a TCP relay in this test, which cuts the connection (as a server
// restart would) and holds the reconnect until the test lets it through, so the close
// or unlisten lands while the reconnect is under way. No connection may outlive them:
// an open socket nobody ends keeps the process alive after its work is done.
import t, { type Test } from 'tap'
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { createPgClient } from './pg-client.ts'
import { TEST_POSTGRES_URL, waitUntil } from './test-support.ts'

interface Relay {
  url: string
  /** client connections the relay has open */
  open: () => number
  /** new connections wait until let through */
  holding: boolean
  held: () => number
  letThrough: () => void
  cut: () => void
  close: () => Promise<void>
}

async function relay (t: Test): Promise<Relay> {
  const target = new URL(TEST_POSTGRES_URL)
  const clients = new Set<net.Socket>()
  const waiting: Array<() => void> = []
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
      client.pipe(upstream).pipe(client)
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
