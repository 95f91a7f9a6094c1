import t from 'tap'
import { backoffDelay, validateRetryPolicy, DEFAULT_RETRY_POLICY } from '../../core/worker/backoff.ts'

const policy = { baseDelayMs: 100, maxDelayMs: 10_000, factor: 2, jitter: 0.2 }

t.test('without jitter the delay grows exponentially and stops at the cap', async t => {
  const exact = { ...policy, jitter: 0 }
  t.same([1, 2, 3, 4, 5, 6, 7, 8].map(a => backoffDelay(a, exact)), [100, 200, 400, 800, 1600, 3200, 6400, 10_000])
  t.equal(backoffDelay(50, exact), 10_000)
  t.equal(backoffDelay(10_000, exact), 10_000, 'huge attempt numbers stay at the cap')
})

t.test('jitter stays within ±jitter of the raw delay', async t => {
  for (let attempt = 1; attempt <= 10; attempt++) {
    const raw = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1))
    t.equal(backoffDelay(attempt, policy, () => 0), Math.round(raw * 0.8), `attempt ${attempt} lower bound`)
    t.equal(backoffDelay(attempt, policy, () => 0.999999999), Math.round(raw * 1.2), `attempt ${attempt} upper bound`)
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(attempt, policy)
      if (d < Math.floor(raw * 0.8) || d > Math.ceil(raw * 1.2)) t.fail(`attempt ${attempt}: ${d} outside [${raw * 0.8}, ${raw * 1.2}]`)
    }
  }
})

t.test('jitter spreads the delays', async t => {
  const seen = new Set<number>()
  for (let i = 0; i < 100; i++) seen.add(backoffDelay(5, policy))
  t.ok(seen.size > 20, `${seen.size} distinct delays`)
})

t.test('policy validation names the field', async t => {
  t.same(validateRetryPolicy(DEFAULT_RETRY_POLICY), DEFAULT_RETRY_POLICY)
  t.throws(() => validateRetryPolicy({ ...policy, factor: 0.5 }), { code: 'VALIDATION_FAILED', message: /retry\.factor/ })
  t.throws(() => validateRetryPolicy({ ...policy, jitter: 2 }), { code: 'VALIDATION_FAILED', message: /retry\.jitter/ })
  t.throws(() => validateRetryPolicy({ ...policy, maxDelayMs: 10 }), { code: 'VALIDATION_FAILED', message: /retry\.maxDelayMs/ })
  t.throws(() => validateRetryPolicy({ ...policy, baseDelayMs: -1 }), { code: 'VALIDATION_FAILED', message: /retry\.baseDelayMs/ })
})
