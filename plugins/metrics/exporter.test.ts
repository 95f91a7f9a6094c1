import t from 'tap'
import type { MetricEvent } from '@switchyard/core/plugin'
import { createMetricsExporter, estimateQuantile, OTHER_LABEL } from './index.ts'
import { parsePrometheusText, sampleValue } from './test-support.ts'

const enqueued = (queue: string, handler: string): MetricEvent => ({ type: 'task.enqueued', queue, handler })
const started = (queue: string, handler: string, waitMs: number): MetricEvent => ({ type: 'task.started', queue, handler, waitMs })
const finished = (queue: string, handler: string, outcome: 'succeeded' | 'retrying' | 'dead' | 'lease_lost', durationMs: number): MetricEvent =>
  ({ type: 'task.finished', queue, handler, outcome, durationMs })
const adminRequest = (rpc: string, code: string, durationMs: number): MetricEvent => ({ type: 'admin.request', rpc, code, durationMs })

t.test('counters and histograms from a stream of task events', async t => {
  const exporter = createMetricsExporter({ buckets: [0.1, 0.2, 0.4], waitBuckets: [1, 10] })
  t.teardown(() => exporter.close())
  const events: MetricEvent[] = [
    enqueued('mail', 'send'), enqueued('mail', 'send'), enqueued('mail', 'send'), enqueued('reports', 'build'),
    started('mail', 'send', 500), started('mail', 'send', 5000), started('reports', 'build', -20),
    finished('mail', 'send', 'succeeded', 50), finished('mail', 'send', 'succeeded', 150),
    finished('mail', 'send', 'retrying', 300), finished('mail', 'send', 'dead', 9000),
    finished('reports', 'build', 'lease_lost', 10)
  ]
  for (const event of events) exporter.observe(event)

  t.equal(exporter.contentType, exporter.registry.contentType)
  t.match(exporter.contentType, /^text\/plain; version=0\.0\.4/)
  const text = await exporter.render()
  t.match(text, /# TYPE switchyard_tasks_enqueued_total counter/)
  t.match(text, /# TYPE switchyard_task_duration_seconds histogram/)
  const samples = parsePrometheusText(text)
  const mail = { queue: 'mail', handler: 'send' }
  const reports = { queue: 'reports', handler: 'build' }
  t.equal(sampleValue(samples, 'switchyard_tasks_enqueued_total', mail), 3)
  t.equal(sampleValue(samples, 'switchyard_tasks_enqueued_total', reports), 1)
  t.equal(sampleValue(samples, 'switchyard_tasks_started_total', mail), 2)
  t.equal(sampleValue(samples, 'switchyard_tasks_finished_total', { ...mail, outcome: 'succeeded' }), 2)
  t.equal(sampleValue(samples, 'switchyard_tasks_finished_total', { ...mail, outcome: 'retrying' }), 1)
  t.equal(sampleValue(samples, 'switchyard_tasks_finished_total', { ...mail, outcome: 'dead' }), 1)
  t.equal(sampleValue(samples, 'switchyard_tasks_finished_total', { ...reports, outcome: 'lease_lost' }), 1)
  t.equal(sampleValue(samples, 'switchyard_tasks_failed_total', { ...mail, outcome: 'succeeded' }), undefined, 'successes are no failures')
  t.equal(sampleValue(samples, 'switchyard_tasks_failed_total', { ...mail, outcome: 'dead' }), 1)
  t.equal(sampleValue(samples, 'switchyard_tasks_failed_total', { ...reports, outcome: 'lease_lost' }), 1)

  // Durations 0.05, 0.15, 0.3, 9 s against bounds 0.1, 0.2, 0.4 (cumulative counts).
  t.equal(sampleValue(samples, 'switchyard_task_duration_seconds_bucket', { ...mail, le: '0.1' }), 1)
  t.equal(sampleValue(samples, 'switchyard_task_duration_seconds_bucket', { ...mail, le: '0.2' }), 2)
  t.equal(sampleValue(samples, 'switchyard_task_duration_seconds_bucket', { ...mail, le: '0.4' }), 3)
  t.equal(sampleValue(samples, 'switchyard_task_duration_seconds_bucket', { ...mail, le: '+Inf' }), 4)
  t.equal(sampleValue(samples, 'switchyard_task_duration_seconds_count', mail), 4)
  t.equal(Math.round((sampleValue(samples, 'switchyard_task_duration_seconds_sum', mail) ?? 0) * 1000), 9500)

  t.equal(sampleValue(samples, 'switchyard_task_queue_wait_seconds_bucket', { ...mail, le: '1' }), 1)
  t.equal(sampleValue(samples, 'switchyard_task_queue_wait_seconds_bucket', { ...mail, le: '10' }), 2)
  t.equal(sampleValue(samples, 'switchyard_task_queue_wait_seconds_sum', mail), 5.5)
  t.equal(sampleValue(samples, 'switchyard_task_queue_wait_seconds_sum', reports), 0, 'a negative wait (clock skew) counts as none')
  t.equal(sampleValue(samples, 'switchyard_task_queue_wait_seconds_count', reports), 1)
})

t.test('queue depth gauges keep the last report', async t => {
  const exporter = createMetricsExporter()
  t.teardown(() => exporter.close())
  exporter.observe({ type: 'queue.depth', queue: 'mail', ready: 5, processing: 2, scheduled: 1, dead: 0 })
  exporter.observe({ type: 'queue.depth', queue: 'mail', ready: 3, processing: 4, scheduled: 0, dead: 7 })
  exporter.observe({ type: 'queue.depth', queue: 'reports', ready: 1, processing: 0, scheduled: 0, dead: 0 })
  const samples = parsePrometheusText(await exporter.render())
  t.equal(sampleValue(samples, 'switchyard_queue_depth', { queue: 'mail', state: 'ready' }), 3)
  t.equal(sampleValue(samples, 'switchyard_queue_depth', { queue: 'mail', state: 'processing' }), 4)
  t.equal(sampleValue(samples, 'switchyard_queue_depth', { queue: 'mail', state: 'scheduled' }), 0)
  t.equal(sampleValue(samples, 'switchyard_queue_depth', { queue: 'mail', state: 'dead' }), 7)
  t.equal(sampleValue(samples, 'switchyard_queue_depth', { queue: 'reports', state: 'ready' }), 1)
  const snapshot = await exporter.snapshot()
  t.same(snapshot.queues, [
    { queue: 'mail', ready: 3, processing: 4, scheduled: 0, dead: 7 },
    { queue: 'reports', ready: 1, processing: 0, scheduled: 0, dead: 0 }
  ])
})

t.test('tasks pruned by retention count per final state; a malformed report is an observe error', async t => {
  const exporter = createMetricsExporter()
  t.teardown(() => exporter.close())
  exporter.observe({ type: 'tasks.pruned', state: 'succeeded', count: 1000 })
  exporter.observe({ type: 'tasks.pruned', state: 'succeeded', count: 5 })
  exporter.observe({ type: 'tasks.pruned', state: 'dead', count: 2 })
  exporter.observe({ type: 'tasks.pruned', state: 'ready', count: 2 } as never)
  exporter.observe({ type: 'tasks.pruned', state: 'canceled', count: -1 })
  const samples = parsePrometheusText(await exporter.render())
  t.equal(sampleValue(samples, 'switchyard_tasks_pruned_total', { state: 'succeeded' }), 1005)
  t.equal(sampleValue(samples, 'switchyard_tasks_pruned_total', { state: 'dead' }), 2)
  t.equal(sampleValue(samples, 'switchyard_tasks_pruned_total', { state: 'ready' }), undefined)
  t.equal(sampleValue(samples, 'switchyard_metrics_observe_errors_total'), 2)
})

t.test('admin requests, durations and actions derived from rpc names', async t => {
  const exporter = createMetricsExporter({ adminBuckets: [0.01, 0.1] })
  t.teardown(() => exporter.close())
  exporter.observe(adminRequest('PauseQueue', 'OK', 4))
  exporter.observe(adminRequest('PauseQueue', 'OK', 6))
  exporter.observe(adminRequest('PauseQueue', 'QUEUE_NOT_FOUND', 2))
  exporter.observe(adminRequest('ReplayDLQByID', 'OK', 50))
  exporter.observe(adminRequest('ResumeDequeue', 'OK', 3))
  exporter.observe(adminRequest('ListQueues', 'OK', 1))
  exporter.observe(adminRequest('ListQueues', 'BACKEND_TIMEOUT', 5000))

  const samples = parsePrometheusText(await exporter.render())
  t.equal(sampleValue(samples, 'switchyard_admin_requests_total', { rpc: 'PauseQueue', code: 'OK' }), 2)
  t.equal(sampleValue(samples, 'switchyard_admin_requests_total', { rpc: 'PauseQueue', code: 'QUEUE_NOT_FOUND' }), 1)
  t.equal(sampleValue(samples, 'switchyard_admin_requests_total', { rpc: 'ListQueues', code: 'BACKEND_TIMEOUT' }), 1)
  t.equal(sampleValue(samples, 'switchyard_admin_request_duration_seconds_count', { rpc: 'PauseQueue' }), 3)
  t.equal(sampleValue(samples, 'switchyard_admin_request_duration_seconds_bucket', { rpc: 'PauseQueue', le: '0.01' }), 3)
  t.equal(sampleValue(samples, 'switchyard_admin_request_duration_seconds_bucket', { rpc: 'ListQueues', le: '0.1' }), 1)
  t.equal(sampleValue(samples, 'switchyard_admin_actions_total', { action: 'queue.pause' }), 2, 'only successful mutations are actions')
  t.equal(sampleValue(samples, 'switchyard_admin_actions_total', { action: 'dlq.replay_ids' }), 1)
  t.equal(sampleValue(samples, 'switchyard_admin_actions_total', { action: 'dequeue.resume' }), 1)
  t.notOk(samples.some(sample => sample.name === 'switchyard_admin_actions_total' && sample.labels.action === undefined), 'no unlabelled action sample')
  t.equal(samples.filter(sample => sample.name === 'switchyard_admin_actions_total').length, 3, 'reads are no actions')

  const { admin } = await exporter.snapshot()
  t.same(admin.actions, { 'queue.pause': 2, 'dlq.replay_ids': 1, 'dequeue.resume': 1 })
  const pause = admin.requests.find(row => row.rpc === 'PauseQueue')
  t.match(pause, { rpc: 'PauseQueue', total: 3, errors: 1, byCode: { OK: 2, QUEUE_NOT_FOUND: 1 }, durationMs: { count: 3, sumMs: 12, avgMs: 4 } })
  t.same(admin.requests.map(row => row.rpc), ['ListQueues', 'PauseQueue', 'ReplayDLQByID', 'ResumeDequeue'])
})

t.test('audit write failures are counted by destination', async t => {
  const exporter = createMetricsExporter()
  t.teardown(() => exporter.close())
  exporter.observe({ type: 'audit.write_failed', destination: 'backend' })
  exporter.observe({ type: 'audit.write_failed', destination: 'backend' })
  exporter.observe({ type: 'audit.write_failed', destination: 'sink:audit-file' })
  const samples = parsePrometheusText(await exporter.render())
  t.equal(sampleValue(samples, 'switchyard_audit_write_failures_total', { destination: 'backend' }), 2)
  t.equal(sampleValue(samples, 'switchyard_audit_write_failures_total', { destination: 'sink:audit-file' }), 1)
  const { admin, process } = await exporter.snapshot()
  t.same(admin.auditWriteFailures, { backend: 2, 'sink:audit-file': 1 })
  t.notOk(Object.keys(process).some(name => name.includes('audit_write_failures')), 'not repeated among the process values')
})

t.test('JSON snapshot: totals, one row per queue/handler, percentiles from buckets', async t => {
  const exporter = createMetricsExporter({ buckets: [0.1, 0.2, 0.4], waitBuckets: [1, 10] })
  t.teardown(() => exporter.close())
  // 5 × 50 ms, 4 × 150 ms, 1 × 300 ms: p50 falls at the top of the first bucket,
  // p95 halfway into the 0.2-0.4 bucket.
  const durations = [50, 50, 50, 50, 50, 150, 150, 150, 150, 300]
  for (const ms of durations) {
    exporter.observe(enqueued('mail', 'send'))
    exporter.observe(started('mail', 'send', 2000))
    exporter.observe(finished('mail', 'send', 'succeeded', ms))
  }
  exporter.observe(enqueued('reports', 'build'))
  exporter.observe(finished('reports', 'build', 'dead', 1))

  const snapshot = await exporter.snapshot()
  t.ok(Number.isFinite(Date.parse(snapshot.generatedAt)))
  t.same(snapshot.tasks.totals, { enqueued: 11, started: 10, finished: { succeeded: 10, retrying: 0, dead: 1, lease_lost: 0 }, failed: 1 })
  t.same(snapshot.tasks.series.map(row => `${row.queue}/${row.handler}`), ['mail/send', 'reports/build'])
  const [mail, reports] = snapshot.tasks.series
  t.same(mail, {
    queue: 'mail',
    handler: 'send',
    enqueued: 10,
    started: 10,
    finished: { succeeded: 10, retrying: 0, dead: 0, lease_lost: 0 },
    failed: 0,
    durationMs: { count: 10, sumMs: 1150, avgMs: 115, p50Ms: 100, p95Ms: 300 },
    // all ten waits of 2 s sit in the 1-10 s bucket: p50 = 1 + 9 × 0.5, p95 = 1 + 9 × 0.95
    waitMs: { count: 10, sumMs: 20000, avgMs: 2000, p50Ms: 5500, p95Ms: 9550 }
  })
  t.same(reports?.waitMs, { count: 0, sumMs: 0, avgMs: null, p50Ms: null, p95Ms: null })
  t.equal(reports?.failed, 1)
  t.same(snapshot.labelOverflow, { queue: 0, handler: 0, rpc: 0, code: 0, series: 0 })
  t.same(snapshot.process, {}, 'no process metrics unless asked for')
  t.same(JSON.parse(JSON.stringify(snapshot)), snapshot, 'plain JSON')
})

t.test('estimateQuantile follows histogram_quantile', async t => {
  const buckets: Array<[number, number]> = [[1, 0], [2, 4], [4, 8], [Infinity, 10]]
  t.equal(estimateQuantile(buckets, 0.5), 2.5, 'rank 5 is one of four into the 2-4 bucket')
  t.equal(estimateQuantile(buckets, 0.25), 1.625, 'rank 2.5 of 4 into the 1-2 bucket')
  t.equal(estimateQuantile(buckets, 0.95), 4, 'in the +Inf bucket: the highest finite bound')
  t.equal(estimateQuantile([[1, 0], [Infinity, 0]], 0.5), null, 'no observations')
})

t.test('label cardinality is capped; beyond the cap values fold into _other', async t => {
  const exporter = createMetricsExporter({ maxLabelValues: 3, maxSeries: 6 })
  t.teardown(() => exporter.close())
  for (let i = 0; i < 10; i++) exporter.observe(enqueued(`q${i}`, 'h'))
  for (let i = 0; i < 6; i++) exporter.observe(enqueued('q0', `h${i}`))
  exporter.observe(enqueued('q0', 'x'.repeat(500)))
  for (let i = 0; i < 5; i++) exporter.observe(adminRequest(`Rpc${i}`, `CODE_${i}`, 1))

  const samples = parsePrometheusText(await exporter.render())
  const enqueuedSamples = samples.filter(sample => sample.name === 'switchyard_tasks_enqueued_total')
  t.same(new Set(enqueuedSamples.map(sample => sample.labels.queue)), new Set(['q0', 'q1', 'q2', OTHER_LABEL]))
  t.equal(sampleValue(samples, 'switchyard_tasks_enqueued_total', { queue: OTHER_LABEL, handler: 'h' }), 7, 'q3..q9 counted under _other')
  t.equal(sampleValue(samples, 'switchyard_tasks_enqueued_total', { queue: 'q0', handler: 'h' }), 1)
  // handler values: h, h0, h1 kept (cap 3); h2..h5 and the overlong one are _other.
  t.equal(sampleValue(samples, 'switchyard_tasks_enqueued_total', { queue: 'q0', handler: 'h0' }), 1)
  t.equal(sampleValue(samples, 'switchyard_tasks_enqueued_total', { queue: 'q0', handler: 'h1' }), 1)
  t.equal(sampleValue(samples, 'switchyard_tasks_enqueued_total', { queue: 'q0', handler: OTHER_LABEL }), 5)
  const total = enqueuedSamples.reduce((sum, sample) => sum + sample.value, 0)
  t.equal(total, 17, 'nothing is lost, only folded')
  t.ok(enqueuedSamples.length <= 3 * 3 + 3, 'series stay bounded')
  t.equal(samples.filter(sample => sample.name === 'switchyard_admin_requests_total').length, 4, 'rpc values capped as well')
  t.equal(sampleValue(samples, 'switchyard_admin_requests_total', { rpc: OTHER_LABEL, code: OTHER_LABEL }), 2)

  const snapshot = await exporter.snapshot()
  t.equal(snapshot.labelOverflow.queue, 7)
  t.equal(snapshot.labelOverflow.handler, 5)
  t.equal(snapshot.labelOverflow.rpc, 2)
})

t.test('the series cap keeps the queue and folds the handler', async t => {
  const exporter = createMetricsExporter({ maxSeries: 2 })
  t.teardown(() => exporter.close())
  for (const handler of ['a', 'b', 'c', 'd']) exporter.observe(enqueued('mail', handler))
  exporter.observe(enqueued('other-queue', 'a'))
  const samples = parsePrometheusText(await exporter.render())
  t.equal(sampleValue(samples, 'switchyard_tasks_enqueued_total', { queue: 'mail', handler: 'a' }), 1)
  t.equal(sampleValue(samples, 'switchyard_tasks_enqueued_total', { queue: 'mail', handler: 'b' }), 1)
  t.equal(sampleValue(samples, 'switchyard_tasks_enqueued_total', { queue: 'mail', handler: OTHER_LABEL }), 2)
  t.equal(sampleValue(samples, 'switchyard_tasks_enqueued_total', { queue: 'other-queue', handler: OTHER_LABEL }), 1)
  t.equal((await exporter.snapshot()).labelOverflow.series, 3)
})

t.test('two exporters in one process keep separate registries', async t => {
  const first = createMetricsExporter()
  const second = createMetricsExporter()
  t.teardown(() => Promise.all([first.close(), second.close()]))
  t.not(first.registry, second.registry)
  first.observe(enqueued('mail', 'send'))
  first.observe(enqueued('mail', 'send'))
  second.observe(enqueued('mail', 'send'))
  t.equal(sampleValue(parsePrometheusText(await first.render()), 'switchyard_tasks_enqueued_total', { queue: 'mail', handler: 'send' }), 2)
  t.equal(sampleValue(parsePrometheusText(await second.render()), 'switchyard_tasks_enqueued_total', { queue: 'mail', handler: 'send' }), 1)
})

t.test('prefix and default process metrics', async t => {
  const exporter = createMetricsExporter({ prefix: 'app_', defaultMetrics: true })
  t.teardown(() => exporter.close())
  exporter.observe(enqueued('mail', 'send'))
  const samples = parsePrometheusText(await exporter.render())
  t.equal(sampleValue(samples, 'app_tasks_enqueued_total', { queue: 'mail', handler: 'send' }), 1)
  t.notOk(samples.some(sample => sample.name.startsWith('switchyard_')))
  t.ok(samples.some(sample => sample.name === 'app_process_cpu_user_seconds_total'))
  const snapshot = await exporter.snapshot()
  t.equal(snapshot.tasks.totals.enqueued, 1)
  t.type(snapshot.process.process_cpu_user_seconds_total, 'number')
  t.notOk('tasks_enqueued_total' in snapshot.process)
})

t.test('bad options are rejected naming the field', async t => {
  t.throws(() => createMetricsExporter({ buckets: [0.5, 0.1] }), { code: 'VALIDATION_FAILED', message: /options\.buckets: bucket bounds must be strictly increasing/ })
  t.throws(() => createMetricsExporter({ waitBuckets: [0, 1] }), { code: 'VALIDATION_FAILED', message: /options\.waitBuckets\.0/ })
  t.throws(() => createMetricsExporter({ prefix: 'bad-prefix' }), { code: 'VALIDATION_FAILED', message: /options\.prefix/ })
  t.throws(() => createMetricsExporter({ maxLabelValues: 0 }), { code: 'VALIDATION_FAILED', message: /options\.maxLabelValues/ })
  t.throws(() => createMetricsExporter({ bogus: 1 } as never), { code: 'VALIDATION_FAILED', message: /options\.bogus: unknown option/ })
})

t.test('malformed events never throw and are counted', async t => {
  const exporter = createMetricsExporter()
  t.teardown(() => exporter.close())
  t.doesNotThrow(() => {
    exporter.observe({ type: 'task.finished', queue: 'mail', handler: 'send', outcome: 'exploded', durationMs: 5 } as never)
    exporter.observe({ type: 'nonsense' } as never)
    exporter.observe({ type: 'task.started', queue: 'mail', handler: 'send', waitMs: Number.NaN })
    exporter.observe({ type: 'task.finished', queue: 'mail', handler: 'send', outcome: 'succeeded', durationMs: -1 })
    exporter.observe({ type: 'queue.depth', queue: 'mail', ready: Number.NaN, processing: 1, scheduled: 0, dead: 0 })
    exporter.observe(null as never)
  })
  const samples = parsePrometheusText(await exporter.render())
  t.equal(sampleValue(samples, 'switchyard_metrics_observe_errors_total'), 3)
  t.equal(sampleValue(samples, 'switchyard_tasks_started_total', { queue: 'mail', handler: 'send' }), 1, 'the start counts; the NaN wait is not observed')
  t.equal(sampleValue(samples, 'switchyard_task_queue_wait_seconds_count', { queue: 'mail', handler: 'send' }), undefined)
  t.equal(sampleValue(samples, 'switchyard_tasks_finished_total', { queue: 'mail', handler: 'send', outcome: 'succeeded' }), 1)
  t.equal(sampleValue(samples, 'switchyard_task_duration_seconds_count', { queue: 'mail', handler: 'send' }), undefined)
  t.equal(sampleValue(samples, 'switchyard_queue_depth', { queue: 'mail', state: 'ready' }), undefined)
  t.equal(sampleValue(samples, 'switchyard_queue_depth', { queue: 'mail', state: 'processing' }), 1)
})

t.test('observe() stays cheap on the hot path', async t => {
  const exporter = createMetricsExporter()
  t.teardown(() => exporter.close())
  const events: MetricEvent[] = []
  for (let i = 0; i < 50; i++) {
    events.push(enqueued(`q${i % 10}`, `h${i % 5}`), started(`q${i % 10}`, `h${i % 5}`, i), finished(`q${i % 10}`, `h${i % 5}`, 'succeeded', i))
  }
  const rounds = 2000
  const begin = process.hrtime.bigint()
  for (let round = 0; round < rounds; round++) for (const event of events) exporter.observe(event)
  const elapsedMs = Number(process.hrtime.bigint() - begin) / 1e6
  const count = rounds * events.length
  t.comment(`${count} observe() calls in ${elapsedMs.toFixed(0)} ms (${(elapsedMs * 1e6 / count).toFixed(0)} ns each)`)
  const { totals } = (await exporter.snapshot()).tasks
  t.equal(totals.enqueued, rounds * 50)
  t.equal(totals.finished.succeeded, rounds * 50)
  t.ok(elapsedMs < 10_000, 'well within bounds even on a busy machine')
})

t.test('after close() observe is a no-op and the registry is empty', async t => {
  const exporter = createMetricsExporter()
  exporter.observe(enqueued('mail', 'send'))
  await exporter.close()
  exporter.observe(enqueued('mail', 'send'))
  t.equal((await exporter.render()).trim(), '')
  t.same((await exporter.snapshot()).tasks.series, [])
})
