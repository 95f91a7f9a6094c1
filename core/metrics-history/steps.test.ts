import t from 'tap'
import { addCounts, hourKey, keyTime, MAX_QUEUES_PER_STEP, minuteKey, pointOf, rollUp, setDepth, type Counts, type StepValue } from './steps.ts'

// The pure rules of the history's steps: sortable keys, the queue bound, rollups and points.

t.test('keys sort as time does and read back to the step start', async t => {
  const at = Date.UTC(2026, 11, 6, 9, 5, 42, 123)
  t.equal(minuteKey(at), '2026-12-06T09:05')
  t.equal(hourKey(at), '2026-12-06T09')
  t.equal(keyTime(minuteKey(at)), Date.UTC(2026, 11, 6, 9, 5))
  t.equal(keyTime(hourKey(at)), Date.UTC(2026, 11, 6, 9))
  const keys = [Date.UTC(2026, 0, 1, 23, 59), Date.UTC(2026, 0, 2, 0, 0), Date.UTC(2026, 9, 10, 1, 0)].map(minuteKey)
  t.same([...keys].sort(), keys, 'lexicographic order is time order')
  t.ok(minuteKey(at) > hourKey(at) && minuteKey(at) < hourKey(at + 3_600_000), 'an hour\'s minutes sort between its key and the next hour\'s')
})

t.test('counts add per queue; past the queue bound and without a queue they go to the all-queues remainder', async t => {
  const step: StepValue = { c: {} }
  addCounts(step, new Map<string | null, Counts>([['a', [1, 0, 0, 0, 0]], [null, [0, 0, 0, 0, 2]]]))
  addCounts(step, new Map<string | null, Counts>([['a', [2, 1, 0, 0, 0]]]))
  t.same(step, { c: { a: [3, 1, 0, 0, 0] }, o: [0, 0, 0, 0, 2] })
  const many = new Map<string | null, Counts>(Array.from({ length: MAX_QUEUES_PER_STEP + 5 }, (_, i) => [`q${i}`, [1, 0, 0, 0, 0] as Counts]))
  const full: StepValue = { c: {} }
  addCounts(full, many)
  t.equal(Object.keys(full.c).length, MAX_QUEUES_PER_STEP, 'at most the bound of queues apart')
  t.same(full.o, [5, 0, 0, 0, 0], 'the rest still counted in all queues')
  t.same(pointOf(0, full, undefined).counts, [MAX_QUEUES_PER_STEP + 5, 0, 0, 0, 0], 'the all-queues point holds everything')
})

t.test('an hour sums its minutes and keeps the latest depth sample; points default to zero', async t => {
  const m1 = setDepth({ c: { a: [1, 1, 0, 0, 0] } }, new Map([['a', [5, 1, 0, 0]]]))
  const m2: StepValue = { c: { a: [2, 0, 1, 1, 0], b: [1, 0, 0, 0, 0] }, o: [0, 0, 0, 0, 3] }
  const m3 = setDepth({ c: {} }, new Map([['a', [2, 0, 1, 0]], ['b', [1, 0, 0, 0]]]))
  const hour = rollUp([m1, m2, m3])
  t.same(hour.c, { a: [3, 1, 1, 1, 0], b: [1, 0, 0, 0, 0] })
  t.same(hour.o, [0, 0, 0, 0, 3])
  t.same(hour.d, { a: [2, 0, 1, 0], b: [1, 0, 0, 0] }, 'the latest sample')
  t.same(pointOf(7, hour, 'a'), { time: 7, counts: [3, 1, 1, 1, 0], depth: [2, 0, 1, 0] })
  t.same(pointOf(7, hour, undefined), { time: 7, counts: [4, 1, 1, 1, 3], depth: [3, 0, 1, 0] })
  t.same(pointOf(7, undefined, 'a'), { time: 7, counts: [0, 0, 0, 0, 0] }, 'a step nobody wrote: zero counts, no depth')
})
