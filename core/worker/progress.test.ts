import t from 'tap'
import type { AckOutcome } from '../backend/types.ts'
import { Batcher } from './batcher.ts'
import { silentLogger } from './logger.ts'
import { ProgressReporter } from './progress.ts'

// The coalescing policy alone, with a write that the test answers by hand: latest
// value wins, one write in flight, writes intervalMs apart, the waiting value written
// by finish(), nothing after close() or a lost lease.

function manualWrites (): { writes: unknown[], answer: (outcome: AckOutcome) => void, reporter: (intervalMs: number) => ProgressReporter, written: unknown[], lost: () => number } {
  const writes: unknown[] = []
  const answers: Array<(outcome: AckOutcome) => void> = []
  const written: unknown[] = []
  let lost = 0
  return {
    writes,
    written,
    lost: () => lost,
    answer: outcome => { answers.shift()?.(outcome) },
    reporter: intervalMs => new ProgressReporter({
      intervalMs,
      write: async value => await new Promise<AckOutcome>(resolve => { writes.push(value); answers.push(resolve) }),
      onWritten: value => { written.push(value) },
      onLeaseLost: () => { lost++ }
    })
  }
}

const tick = async (ms = 0): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

t.test('latest value wins while a write is in flight; the next write waits for the interval', async t => {
  const m = manualWrites()
  const reporter = m.reporter(10_000)
  t.equal(reporter.report(1), true)
  t.same(m.writes, [1], 'the first value goes out at once')
  for (let i = 2; i <= 40; i++) reporter.report(i)
  t.same(m.writes, [1], 'one write in flight')
  m.answer('ok')
  await tick(20)
  t.same(m.writes, [1], 'the next write waits for the interval')
  t.same(m.written, [1])

  const eager = manualWrites()
  const unbounded = eager.reporter(0)
  unbounded.report(1)
  for (let i = 2; i <= 40; i++) unbounded.report(i)
  eager.answer('ok')
  await tick()
  t.same(eager.writes, [1, 40], 'with no interval the next write follows the answer, with only the latest value')
})

t.test('finish() writes the waiting value at once, after the write in flight', async t => {
  const m = manualWrites()
  const reporter = m.reporter(10_000)
  reporter.report({ step: 1 })
  reporter.report({ step: 2 })
  const finished = reporter.finish()
  t.equal(reporter.report({ step: 3 }), false, 'no reports once finishing')
  m.answer('ok')
  await tick()
  t.same(m.writes, [{ step: 1 }, { step: 2 }], 'the waiting value is written without waiting for the interval')
  m.answer('ok')
  await finished
  t.same(m.written, [{ step: 1 }, { step: 2 }])
})

t.test('a reported object is copied: later mutation changes nothing', async t => {
  const m = manualWrites()
  const reporter = m.reporter(0)
  const value = { done: 1 }
  reporter.report(value)
  value.done = 99
  t.same(m.writes, [{ done: 1 }])
})

t.test('a lost lease refuses further reports; close() drops what waits', async t => {
  const m = manualWrites()
  const reporter = m.reporter(0)
  reporter.report(1)
  reporter.report(2)
  m.answer('lease_lost')
  await tick()
  t.equal(m.lost(), 1, 'the worker hears of the lost lease')
  t.equal(reporter.report(3), false, 'refused after the loss')
  t.same(m.writes, [1], 'the value waiting behind the failed write is dropped')

  const other = manualWrites()
  const closing = other.reporter(10_000)
  closing.report(1)
  closing.report(2)
  closing.close()
  other.answer('ok')
  await tick()
  t.same(other.writes, [1])
  t.equal(closing.report(3), false)
})

t.test('Batcher: items drain() gives up on settle with the abandoned outcome', async t => {
  const settled: string[] = []
  const batcher = new Batcher<number, string>({
    name: 'test',
    maxBatch: 10,
    flushMs: 1,
    log: silentLogger,
    abandoned: 'gave up',
    send: async () => { throw new Error('backend down') }
  })
  batcher.push(1, outcome => settled.push(outcome))
  t.equal(await batcher.drain(100), 1, 'one item given up on')
  t.same(settled, ['gave up'])
})
