// The ack batcher's defer option (capability acksAwaitLeases): items wait for another
// call to carry them (flushVia), but never longer than maxDeferMs, and a full batch or
// a drain never waits.
import t from 'tap'
import { Batcher } from './batcher.ts'
import { quietLog } from '../../test/worker/support.ts'

function recorder (): { sent: number[][], send: (items: number[]) => Promise<string[]> } {
  const sent: number[][] = []
  return { sent, send: async items => { sent.push(items); return items.map(() => 'ok') } }
}

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

t.test('while deferring, items wait for flushVia and go with it', async t => {
  const own = recorder()
  const carried = recorder()
  const batcher = new Batcher<number, string>({ name: 'ack', send: own.send, maxBatch: 100, flushMs: 2, log: quietLog, defer: () => true, maxDeferMs: 10_000 })
  const outcomes: string[] = []
  for (let i = 0; i < 3; i++) batcher.push(i, outcome => outcomes.push(outcome))
  await sleep(30)
  t.same(own.sent, [], 'nothing sent on its own while deferring')
  t.ok(batcher.flushVia(carried.send), 'flushVia takes them')
  await sleep(5)
  t.same(carried.sent, [[0, 1, 2]], 'carried by the other call')
  t.same(outcomes, ['ok', 'ok', 'ok'], 'each item settled')
  t.equal(await batcher.drain(1_000), 0)
})

t.test('a deferred item goes on its own once maxDeferMs has passed', async t => {
  const own = recorder()
  const batcher = new Batcher<number, string>({ name: 'ack', send: own.send, maxBatch: 100, flushMs: 2, log: quietLog, defer: () => true, maxDeferMs: 40 })
  const started = Date.now()
  const done = new Promise<number>(resolve => batcher.push(1, () => resolve(Date.now() - started)))
  const waited = await done
  t.same(own.sent, [[1]], 'sent by itself')
  t.ok(waited >= 35, `waited about maxDeferMs (${waited} ms)`)
  t.ok(waited < 1_000, 'not much longer')
})

t.test('no deferral once the predicate says no; a full batch and drain never wait', async t => {
  let deferring = true
  const own = recorder()
  const batcher = new Batcher<number, string>({ name: 'ack', send: own.send, maxBatch: 3, flushMs: 2, log: quietLog, defer: () => deferring, maxDeferMs: 60_000 })
  batcher.push(1, () => {})
  await sleep(20)
  t.same(own.sent, [], 'held while deferring')
  deferring = false
  await sleep(20)
  t.same(own.sent, [[1]], 'sent at the next flush once the predicate turned false')
  deferring = true
  for (const i of [2, 3, 4]) batcher.push(i, () => {})
  await sleep(5)
  t.same(own.sent, [[1], [2, 3, 4]], 'a full batch goes at once')
  batcher.push(5, () => {})
  t.equal(await batcher.drain(1_000), 0, 'drain sends what waits')
  t.same(own.sent.at(-1), [5])
})
