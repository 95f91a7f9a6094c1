// The queue in front of PGlite's one connection: one call at a time, a call whose
// deadline passes while it waits never runs, a full queue refuses at once, and
// reads and writes take turns. The gate's own order is checked with calls the test
// holds open (what runs inside the engine is beside the point there); the bound is
// checked on a real PGlite too.
import t from 'tap'
import { PGLITE_SLICE_MS, PgliteGate } from './pglite-gate.ts'
import { createPgliteClient, statementLane } from './pglite-client.ts'

/** a call the test finishes when it likes; `ran` tells whether the gate ever started it */
function held (): { call: () => Promise<string>, release: (value: string) => void, ran: () => boolean } {
  let started = false
  let release: (value: string) => void = () => {}
  const done = new Promise<string>(resolve => { release = resolve })
  return { call: async () => { started = true; return await done }, release: (value) => release(value), ran: () => started }
}

t.test('one call at a time; waiting reads and writes take turns', async t => {
  const gate = new PgliteGate({ maxQueued: 100 })
  const order: string[] = []
  const blocker = held()
  const first = gate.run('block', 'write', 5_000, blocker.call)
  const queued = ['w1', 'w2', 'w3', 'r1', 'r2'].map(name =>
    gate.run(name, name.startsWith('r') ? 'read' : 'write', 5_000, async () => { order.push(name); return name }))
  t.equal(gate.queued, 5, 'five wait behind the one running')
  await new Promise(resolve => setTimeout(resolve, 20))
  t.same(order, [], 'nothing runs while the connection is held')
  blocker.release('done')
  t.equal(await first, 'done')
  t.same(await Promise.all(queued), ['w1', 'w2', 'w3', 'r1', 'r2'], 'each caller gets its own answer')
  t.same(order, ['r1', 'w1', 'r2', 'w2', 'w3'], 'reads did not wait behind every queued write')
  const stats = gate.takeStats()
  t.equal(stats.maxQueued, 5)
  t.equal(stats.kinds.r1?.calls, 1)
})

t.test('a call whose deadline passes while it waits leaves the queue and never runs', async t => {
  const gate = new PgliteGate({ maxQueued: 100 })
  const blocker = held()
  const running = gate.run('block', 'write', 5_000, blocker.call)
  const late = held()
  const expired = gate.run('late', 'read', 50, late.call)
  await t.rejects(expired, { code: 'BACKEND_TIMEOUT', message: /waited 50 ms .* never ran/ })
  t.equal(gate.queued, 0, 'it left the queue')
  blocker.release('done')
  await running
  await new Promise(resolve => setTimeout(resolve, 20))
  t.notOk(late.ran(), 'the abandoned call was never started')
  t.equal(gate.takeStats().kinds.late?.expired, 1)
})

t.test('a call that runs past its deadline rejects; the next waits until it really ends', async t => {
  const gate = new PgliteGate({ maxQueued: 100 })
  const slow = held()
  await t.rejects(gate.run('slow', 'write', 30, slow.call), { code: 'BACKEND_TIMEOUT', message: /did not finish within 30 ms/ })
  const next = held()
  const after = gate.run('next', 'read', 5_000, next.call)
  await new Promise(resolve => setTimeout(resolve, 20))
  t.notOk(next.ran(), 'the connection is still busy with the slow call')
  slow.release('late')
  await new Promise(resolve => setTimeout(resolve, 20))
  t.ok(next.ran())
  next.release('ok')
  t.equal(await after, 'ok')
})

t.test('a full queue refuses at once, with a clear error', async t => {
  const gate = new PgliteGate({ maxQueued: 2 })
  const blocker = held()
  const running = gate.run('block', 'write', 5_000, blocker.call)
  const waiting = [gate.run('a', 'read', 5_000, async () => 'a'), gate.run('b', 'read', 5_000, async () => 'b')]
  await t.rejects(gate.run('c', 'read', 5_000, async () => 'c'), { code: 'BACKEND_UNAVAILABLE', message: /2 calls already wait .* overloaded/ })
  blocker.release('done')
  await running
  t.same(await Promise.all(waiting), ['a', 'b'])
  t.equal(gate.takeStats().kinds.c?.refused, 1)
})

t.test('PGlite: statements beyond the queue bound are refused, the rest answered', { timeout: 120_000 }, async t => {
  const client = await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 30_000, settings: {}, maxQueued: 3 })
  t.teardown(() => client.close())
  const answers = await Promise.allSettled(Array.from({ length: 6 }, async (_, i) => await client.query<{ n: number }>('SELECT $1::int AS n', [i])))
  // the first starts at once, three wait, two are refused
  t.same(answers.map(a => a.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected'])
  t.match((answers[4] as PromiseRejectedResult).reason, { code: 'BACKEND_UNAVAILABLE' })
  const rows = await client.transaction(async tx => await tx.query<{ n: number }>('SELECT 7 AS n'))
  t.equal(rows[0]?.n, 7, 'a transaction goes through the same gate and still answers')
})

t.test('PGlite on the main thread: a flood of statements leaves the event loop a turn every slice', { timeout: 120_000 }, async t => {
  const client = await createPgliteClient({ dataDir: undefined, statementTimeoutMs: 30_000, settings: {}, thread: 'main' })
  t.teardown(() => client.close())
  await client.exec('CREATE TABLE flood (id int PRIMARY KEY, v text)')
  // what else the loop runs meanwhile: immediates (its check phase) and a 1 ms timer
  let turns = 0
  let flooding = true
  const turn = (): void => { turns++; if (flooding) setImmediate(turn) }
  setImmediate(turn)
  let longestGap = 0
  let last = performance.now()
  const timer = setInterval(() => { const now = performance.now(); longestGap = Math.max(longestGap, now - last); last = now }, 1)
  const started = performance.now()
  // each caller's second statement joins the queue from its first's answer, as a request's do
  await Promise.all(Array.from({ length: 300 }, async (_, i) => {
    await client.query('INSERT INTO flood VALUES ($1, $2)', [i, 'x'.repeat(100)])
    await client.query('SELECT count(*) FROM flood WHERE v LIKE $1', ['x%'])
  }))
  const ms = performance.now() - started
  flooding = false
  clearInterval(timer)
  // before the slices: 0 turns however long the flood (157-438 ms), the timer never fired
  t.ok(turns >= Math.max(1, Math.floor(ms / (PGLITE_SLICE_MS * 4))), `the loop turned ${turns} times during ${Math.round(ms)} ms of statements`)
  t.ok(longestGap > 0 && longestGap < Math.max(ms / 2, PGLITE_SLICE_MS * 10), `a timer fired at most ${Math.round(longestGap)} ms apart`)
})

t.test('statements that write are told from reads', async t => {
  t.equal(statementLane('SELECT id FROM s.tasks WHERE id = $1'), 'read')
  t.equal(statementLane('WITH horizon AS MATERIALIZED (SELECT 1) SELECT * FROM s.event_pages'), 'read')
  t.equal(statementLane('INSERT INTO s.audit (a) VALUES ($1)'), 'write')
  t.equal(statementLane("WITH x AS (SELECT nextval('s.ids')) SELECT * FROM x"), 'write')
  t.equal(statementLane("SELECT pg_notify('c', '')"), 'write')
})
