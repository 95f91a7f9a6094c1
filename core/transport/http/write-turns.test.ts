// Streams that all want to write at once take turns: about bytesPerTurn bytes of
// writes in a turn of the event loop (at least one write), in the order they asked,
// and the loop reads its sockets between the turns.
import { once } from 'node:events'
import { createServer, connect, type AddressInfo } from 'node:net'
import t from 'tap'
import { WriteTurns } from './write-turns.ts'

/** the loop turn each writer got its slot in: an immediate that schedules itself again runs once per turn, after the poll for I/O */
function turnCounter (): { now: () => number, stop: () => void } {
  let turn = 0
  let ticking = true
  const tick = (): void => { turn++; if (ticking) setImmediate(tick) }
  setImmediate(tick)
  return { now: () => turn, stop: () => { ticking = false } }
}

t.test('a thousand writers of 10 kB at once: at most 64 kB per turn of the loop, in order', async t => {
  const turns = new WriteTurns(64 * 1024)
  const writers = 1000
  const order: number[] = []
  const counter = turnCounter()
  const turnOf: number[] = []
  await Promise.all(Array.from({ length: writers }, async (_, i) => {
    const wait = turns.take(10 * 1024)
    if (wait !== null) await wait
    order.push(i)
    turnOf[i] = counter.now()
  }))
  counter.stop()
  t.same(order, Array.from({ length: writers }, (_, i) => i), 'every writer, in the order they asked')
  const perTurn = new Map<number, number>()
  for (const at of turnOf) perTurn.set(at, (perTurn.get(at) ?? 0) + 1)
  t.ok(Math.max(...perTurn.values()) <= 6, `at most six 10 kB writes in any turn (${JSON.stringify([...perTurn.values()].slice(0, 10))}...)`)
  t.ok(perTurn.size >= Math.ceil(writers / 6), `spread over at least ${Math.ceil(writers / 6)} turns of the loop (${perTurn.size})`)
  t.equal(turns.queued, 0)
})

t.test('a write larger than the budget still goes, alone in its turn', async t => {
  const turns = new WriteTurns(1000)
  t.equal(turns.take(5000), null, 'the first write of a turn goes whatever its size')
  const second = turns.take(10)
  t.not(second, null, 'the budget is spent: the next waits')
  const third = turns.take(5000)
  const done: string[] = []
  await Promise.all([second!.then(() => done.push('second')), third!.then(() => done.push('third'))])
  t.same(done, ['second', 'third'], 'in the order asked')
})

t.test('an answer on a socket is read between the turns, not after every writer', async t => {
  const server = createServer(socket => socket.on('data', () => socket.write('pong')))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1')
  await once(client, 'connect')
  t.teardown(() => client.destroy())
  const turns = new WriteTurns(16 * 1024)
  const writers = 400
  let done = 0
  let doneWhenAnswered = -1
  const answered = once(client, 'data').then(() => { doneWhenAnswered = done })
  client.write('ping')
  await Promise.all(Array.from({ length: writers }, async () => {
    const wait = turns.take(1024)
    if (wait !== null) await wait
    // a write's cost, held on the loop
    const until = performance.now() + 0.2
    while (performance.now() < until) { /* busy */ }
    done++
  }))
  await answered
  t.ok(doneWhenAnswered >= 0 && doneWhenAnswered < writers, `the answer was read after ${doneWhenAnswered} of ${writers} writes`)
})

t.test('a lone writer writes at once, and a quiet WriteTurns leaves no immediate behind', async t => {
  const turns = new WriteTurns(100)
  t.equal(turns.take(60), null, 'room in this turn: no wait')
  const over = turns.take(60)
  t.not(over, null, 'over the budget: the next turn')
  await over
  await new Promise(resolve => setImmediate(resolve))
  await new Promise(resolve => setImmediate(resolve))
  t.equal(turns.take(100), null, 'a new turn has room again')
})

t.test('bytesPerTurn must be a positive integer', async t => {
  t.throws(() => new WriteTurns(0), /positive integer/)
  t.throws(() => new WriteTurns(1.5), /positive integer/)
})
