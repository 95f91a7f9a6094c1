import t from 'tap'
import { weightedQueueOrder } from '../../core/worker/queue-choice.ts'

// mulberry32: a small seeded generator so the statistical checks are reproducible.
function seeded (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

t.test('the first queue is chosen in proportion to weight', async t => {
  const random = seeded(42)
  const queues = [{ name: 'a', weight: 3 }, { name: 'b', weight: 1 }]
  const firsts = { a: 0, b: 0 }
  const rounds = 40_000
  for (let i = 0; i < rounds; i++) firsts[weightedQueueOrder(queues, random)[0] as 'a' | 'b']++
  const ratio = firsts.a / firsts.b
  t.ok(ratio > 2.85 && ratio < 3.15, `a:b first-choice ratio ${ratio.toFixed(3)} is about 3`)
})

t.test('three queues: shares of first place match weights 5:3:2', async t => {
  const random = seeded(7)
  const queues = [{ name: 'x', weight: 5 }, { name: 'y', weight: 3 }, { name: 'z', weight: 2 }]
  const counts: Record<string, number> = { x: 0, y: 0, z: 0 }
  const rounds = 50_000
  for (let i = 0; i < rounds; i++) counts[weightedQueueOrder(queues, random)[0]!]!++
  t.ok(Math.abs(counts.x! / rounds - 0.5) < 0.01, `x share ${counts.x! / rounds}`)
  t.ok(Math.abs(counts.y! / rounds - 0.3) < 0.01, `y share ${counts.y! / rounds}`)
  t.ok(Math.abs(counts.z! / rounds - 0.2) < 0.01, `z share ${counts.z! / rounds}`)
})

t.test('every eligible queue appears exactly once; weight 0 and invalid weights are left out', async t => {
  const order = weightedQueueOrder([
    { name: 'a', weight: 1 },
    { name: 'off', weight: 0 },
    { name: 'b', weight: 2 },
    { name: 'neg', weight: -1 },
    { name: 'nan', weight: Number.NaN },
    { name: 'inf', weight: Number.POSITIVE_INFINITY },
    { name: 'c', weight: 0.5 }
  ])
  t.same([...order].sort(), ['a', 'b', 'c'])
  t.same(weightedQueueOrder([]), [])
})

t.test('a random() of exactly 0 does not break the ordering', async t => {
  const order = weightedQueueOrder([{ name: 'a', weight: 1 }, { name: 'b', weight: 1 }], () => 0)
  t.same([...order].sort(), ['a', 'b'])
})

t.test('very large weights do not underflow', async t => {
  const random = seeded(1)
  let heavyFirst = 0
  for (let i = 0; i < 2000; i++) if (weightedQueueOrder([{ name: 'heavy', weight: 1e6 }, { name: 'light', weight: 1 }], random)[0] === 'heavy') heavyFirst++
  t.ok(heavyFirst >= 1995, `heavy first ${heavyFirst}/2000`)
})
