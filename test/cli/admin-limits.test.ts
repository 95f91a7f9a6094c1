// Flow limit commands through a real gateway: `switchyard start` on PostgreSQL with a
// flowControl section (stored in the backend at start), then `limits list|set|clear`
// and the queue detail as separate CLI processes over mutual TLS.
import t from 'tap'
import { startDeployment } from './deployment.ts'
import { waitFor } from '../../core/backend/conformance/support.ts'

t.setTimeout(600_000)
const d = await startDeployment(t, {
  extraConfig: [
    'flowControl:',
    '  handlers: { boom: { concurrency: 2, rate: { limit: 10, window: 1s } } }',
    '  queues: { held: { concurrency: 1 } }',
    '  tenants: { acme: { rate: { limit: 5, window: 1s } } }'
  ]
})

interface Limit { kind: string, name: string, concurrency?: number, rateLimit?: number, rateWindowMs?: number, running: number, inUse: number, saturation: number, saturated: boolean, throttled: number }

t.test('the configured limits are in the backend at start; GET /admin/v1/rate-limits lists them', async t => {
  const listed = await d.json<{ limits: Limit[] }>(['limits', 'list'])
  t.match(listed.limits, [
    { kind: 'handler', name: 'boom', concurrency: 2, rateLimit: 10, rateWindowMs: 1000 },
    { kind: 'queue', name: 'held', concurrency: 1 },
    { kind: 'tenant', name: 'acme', rateLimit: 5, rateWindowMs: 1000 }
  ])
  const text = await d.cli(['limits'])
  t.equal(text.code, 0, text.stderr)
  t.match(text.stdout, /^KIND +NAME +LIMIT +RUNNING +STARTED +SATURATION +THROTTLED$/m)
  t.match(text.stdout, /^handler +boom +2 at once, 10 per 1000ms/m)
  t.match((await d.admin.call('ListRateLimits', {})).limits.map(l => l.name), ['boom', 'held', 'acme'], 'the same over the gateway client')
})

t.test('limits set and clear; a saturated queue shows throttled tasks in its detail', async t => {
  const set = await d.json<{ limit: Limit }>(['limits', 'set', 'queue', 'cliflow', '--concurrency', '3', '--rate', '50', '--per', '1m'])
  t.match(set.limit, { kind: 'queue', name: 'cliflow', concurrency: 3, rateLimit: 50, rateWindowMs: 60_000, running: 0, saturated: false })
  const replaced = await d.cli(['limits', 'set', 'queue', 'cliflow', '--rate', '2', '--per', '1h'])
  t.equal(replaced.code, 0, replaced.stderr)
  t.match(replaced.stdout, /queue cliflow: 2 per 3600000ms/)

  // two start in the window, the other three wait as throttled
  for (let i = 0; i < 5; i++) await d.json(['enqueue', 'ok', '--queue', 'cliflow'])
  const detail = await waitFor(async () => {
    const q = await d.json<{ queue: { throttled?: number, succeeded: number } }>(['queue', 'get', 'cliflow'])
    return q.queue.succeeded === 2 && q.queue.throttled === 3 ? q : null
  }, { what: 'two tasks to run and three to be throttled', timeoutMs: 30_000, intervalMs: 300 })
  t.match(detail.queue, { throttled: 3, ready: 3 })
  const limit = (await d.json<{ limits: Limit[] }>(['limits', 'list'])).limits.find(l => l.name === 'cliflow')
  t.match(limit, { inUse: 2, saturation: 1, saturated: true, throttled: 3 })

  t.match(await d.json(['limits', 'clear', 'queue', 'cliflow']), { cleared: true })
  t.match(await d.json(['limits', 'clear', 'queue', 'cliflow']), { cleared: false }, 'clearing again is not an error')
  await waitFor(async () => (await d.admin.call('GetQueue', { name: 'cliflow' })).queue.succeeded === 5 ? true : null,
    { what: 'the held-back tasks to run once the limit is gone', timeoutMs: 30_000, intervalMs: 300 })
  t.pass('all five ran')
})

t.test('a tenant limit holds back only the tasks of that tenant', async t => {
  const set = await d.json<{ limit: Limit }>(['limits', 'set', 'tenant', 'globex', '--rate', '2', '--per', '1h'])
  t.match(set.limit, { kind: 'tenant', name: 'globex', rateLimit: 2, rateWindowMs: 3_600_000, running: 0, saturated: false })
  for (let i = 0; i < 4; i++) await d.json(['enqueue', 'ok', '--queue', 'tenants', '--tenant', 'globex'])
  for (let i = 0; i < 2; i++) await d.json(['enqueue', 'ok', '--queue', 'tenants'])
  const limit = await waitFor(async () => {
    const l = (await d.json<{ limits: Limit[] }>(['limits', 'list'])).limits.find(l => l.name === 'globex')
    const q = await d.json<{ queue: { succeeded: number } }>(['queue', 'get', 'tenants'])
    return q.queue.succeeded === 4 && l?.saturated === true ? l : null
  }, { what: 'two tasks of the tenant and both without one to run', timeoutMs: 30_000, intervalMs: 300 })
  t.match(limit, { started: 2, throttled: 2 }, 'the other two of the tenant wait')
  t.match(await d.json(['limits', 'clear', 'tenant', 'globex']), { cleared: true })
  await waitFor(async () => (await d.admin.call('GetQueue', { name: 'tenants' })).queue.succeeded === 6 ? true : null,
    { what: 'the held-back tasks of the tenant to run once the limit is gone', timeoutMs: 30_000, intervalMs: 300 })
  t.pass('all six ran')
})

t.test('bad limits are usage errors or refusals naming what is wrong', async t => {
  for (const [args, code, message] of [
    [['limits', 'set', 'queue', 'x'], 2, /set --concurrency, --rate with --per, or both/],
    [['limits', 'set', 'region', 'x', '--concurrency', '1'], 2, /kind: "region" is not one of queue, handler, tenant/],
    [['limits', 'set', 'queue', 'x', '--rate', '5'], 2, /--rate and --per go together/],
    [['limits', 'set', 'queue', 'x', '--concurrency', '0'], 2, /--concurrency: "0" is not an integer from 1/],
    [['limits', 'set', 'queue', 'x', '--rate', '5', '--per', 'soon'], 2, /--per: "soon" is not a duration/]
  ] as const) {
    const run = await d.cli([...args])
    t.equal(run.code, code, `${args.join(' ')}: exit ${code}`)
    t.match(run.stderr, message)
  }
  const viaHttp = await d.admin.call('SetFlowLimit', { kind: 'queue', name: 'x', rateLimit: 5 }).catch((err: unknown) => err)
  t.match(viaHttp, { code: 'VALIDATION_FAILED', details: { field: 'rateWindowMs' } }, 'half a rate over HTTP: 400 naming the field')
  t.equal((await d.json<{ limits: Limit[] }>(['limits', 'list'])).limits.some(l => l.name === 'x'), false, 'nothing was stored')
})
