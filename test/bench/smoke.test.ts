// Every benchmark in smoke mode, the way CI exercises them (see smoke-support.ts for
// what is checked). A benchmark with a test file of its own, test/bench/<name>.test.ts,
// is run there (startup and job-run check more of their report; the others have a file
// each so the test runner spreads the slow smoke runs over its jobs); this file runs
// any other one, so a new benchmark is smoke-tested from the start.
import t from 'tap'
import { BENCHES, hasOwnSmokeTest, smokeTest } from './smoke-support.ts'

t.test('the benchmark directory holds benchmarks', async t => {
  t.ok(BENCHES.includes('pg-throughput'), 'pg-throughput exists')
  t.ok(BENCHES.includes('redis-throughput'), 'redis-throughput exists')
  t.ok(BENCHES.includes('gateway-throughput'), 'gateway-throughput exists')
})

for (const name of BENCHES.filter(name => !hasOwnSmokeTest(name))) smokeTest(t, name)
