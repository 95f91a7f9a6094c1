import t from 'tap'
import { FLOW_WAIT_MIN_MS, FLOW_WINDOW_MARGIN_MS, flowWaitMs } from './flow-wait.ts'

t.test('without rate windows: a back-off doubling per short lease, up to maxMs', async t => {
  const waits = [0, 1, 2, 3, 4, 5, 30].map(shortLeases => flowWaitMs({ now: 1_000_123, rateWindows: [], shortLeases, maxMs: 1_000 }))
  t.same(waits, [FLOW_WAIT_MIN_MS, 100, 200, 400, 800, 1_000, 1_000])
  t.equal(flowWaitMs({ now: 0, rateWindows: [], shortLeases: 0, maxMs: 20 }), 20, 'never longer than maxMs')
})

t.test('with rate windows: at most until just after the next boundary of any of them', async t => {
  // 1 000 ms window, 300 ms into it: the boundary is 700 ms away
  t.equal(flowWaitMs({ now: 5_300, rateWindows: [1_000], shortLeases: 10, maxMs: 60_000 }), 700 + FLOW_WINDOW_MARGIN_MS)
  t.equal(flowWaitMs({ now: 5_300, rateWindows: [60_000, 1_000], shortLeases: 10, maxMs: 60_000 }), 700 + FLOW_WINDOW_MARGIN_MS, 'the nearest boundary wins')
  t.equal(flowWaitMs({ now: 5_300, rateWindows: [1_000], shortLeases: 0, maxMs: 60_000 }), FLOW_WAIT_MIN_MS, 'a shorter back-off wins (a concurrency slot may free sooner)')
  t.equal(flowWaitMs({ now: 5_300, rateWindows: [1_000], shortLeases: 10, maxMs: 500 }), 500, 'maxMs still bounds it')
  t.equal(flowWaitMs({ now: 6_000, rateWindows: [1_000], shortLeases: 10, maxMs: 60_000 }), 1_000 + FLOW_WINDOW_MARGIN_MS, 'on a boundary: the next one')
  t.equal(flowWaitMs({ now: 6_000, rateWindows: [0, Number.NaN], shortLeases: 1, maxMs: 60_000 }), 100, 'windows that are no windows are ignored')
})
