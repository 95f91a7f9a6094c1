// A statement the server never answers (a silent network) fails after pg's read bound
// (query_timeout: statementTimeoutMs + 5 s) as BACKEND_UNAVAILABLE, on the pool's own
// queries and inside a transaction, and the pool goes on with a fresh connection. Inside
// a transaction the connection, checked out, once had no 'error' listener: when it ended
// the process died of an uncaught 'Connection terminated unexpectedly'. The client
// reaches the server through a TCP relay that stops forwarding on the connections open
// at the time.
import t, { type Test } from 'tap'
import net from 'node:net'
import { isSwitchyardError } from '@switchyard/core'
import { createPgClient } from './pg-client.ts'
import { TEST_POSTGRES_URL } from './test-support.ts'

const STATEMENT_TIMEOUT_MS = 100
/** query_timeout in pg-client.ts */
const READ_BOUND_MS = STATEMENT_TIMEOUT_MS + 5000

/** a relay to the test server; stall() silences the connections open now (later ones flow) */
async function stallingRelay (t: Test): Promise<{ url: string, stall: () => void }> {
  const target = new URL(TEST_POSTGRES_URL)
  const open = new Set<{ stalled: boolean, client: net.Socket }>()
  const server = net.createServer(client => {
    const link = { stalled: false, client }
    open.add(link)
    const upstream = net.connect(Number(target.port === '' ? 5432 : target.port), target.hostname)
    upstream.on('error', () => {})
    client.on('error', () => {})
    upstream.on('close', () => client.destroy())
    client.on('close', () => { upstream.destroy(); open.delete(link) })
    client.on('data', data => { if (!link.stalled) upstream.write(data) })
    upstream.on('data', data => { if (!link.stalled) client.write(data) })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    for (const link of open) link.client.destroy()
    await new Promise(resolve => server.close(resolve))
  })
  const url = new URL(TEST_POSTGRES_URL)
  url.hostname = '127.0.0.1'
  url.port = String((server.address() as net.AddressInfo).port)
  return { url: url.toString(), stall: () => { for (const link of open) link.stalled = true } }
}

async function failsWithinBound (t: Test, statement: Promise<unknown>): Promise<void> {
  const started = performance.now()
  const err = await statement.then(() => null, (e: unknown) => e)
  const ms = performance.now() - started
  t.ok(isSwitchyardError(err) && err.code === 'BACKEND_UNAVAILABLE', `BACKEND_UNAVAILABLE (got ${String(err)})`)
  t.ok(ms >= READ_BOUND_MS - 50 && ms < READ_BOUND_MS + 3000, `failed after the bound, not long after (${Math.round(ms)} ms)`)
}

t.test('a pool statement with no answer fails after the read bound; the next one gets a fresh connection', async t => {
  const relay = await stallingRelay(t)
  const client = createPgClient({ connectionString: relay.url, poolSize: 1, statementTimeoutMs: STATEMENT_TIMEOUT_MS, settings: {} })
  t.teardown(() => client.close())
  t.same(await client.query('SELECT 1 AS one'), [{ one: 1 }])
  relay.stall()
  await failsWithinBound(t, client.query('SELECT 2 AS two'))
  t.same(await client.query('SELECT 3 AS three'), [{ three: 3 }], 'the pool answers again')
})

t.test('a transaction statement with no answer fails after the read bound, without an uncaught connection error', async t => {
  const relay = await stallingRelay(t)
  const client = createPgClient({ connectionString: relay.url, poolSize: 1, statementTimeoutMs: STATEMENT_TIMEOUT_MS, settings: {} })
  t.teardown(() => client.close())
  await failsWithinBound(t, client.transaction(async tx => {
    await tx.query('SELECT 1')
    relay.stall()
    return await tx.query('SELECT 2')
  }))
  t.same(await client.transaction(async tx => await tx.query('SELECT 4 AS four')), [{ four: 4 }], 'the pool answers again')
})
