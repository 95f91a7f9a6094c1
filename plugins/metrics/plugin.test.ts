import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadConfig, loadPlugins } from '@switchyard/core'
import { ensureHookRegistry } from '@switchyard/core/plugin'
import { parsePrometheusText, sampleValue } from './test-support.ts'

const configDir = await mkdtemp(join(tmpdir(), 'sy-metrics-'))
t.teardown(() => rm(configDir, { recursive: true, force: true }))
const { config } = await loadConfig({ env: {}, cwd: configDir })

async function appWith (t: Test, name: string, options: Record<string, unknown> = {}) {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  const registry = ensureHookRegistry(app)
  const loaded = await loadPlugins(app, [{ name, options }], { config, configDir })
  return { app, registry, loaded }
}

t.test('loads by built-in name and registers one exporter', async t => {
  const { app, registry, loaded } = await appWith(t, 'metrics', { prefix: 'sy_' })
  t.match(loaded, [{ name: 'metrics', version: '0.1.0', kind: 'builtin' }])
  const [exporter, ...rest] = registry.metricsExporters()
  t.equal(rest.length, 0)
  t.equal(exporter?.name, 'prometheus')
  exporter?.observe({ type: 'task.enqueued', queue: 'mail', handler: 'send' })
  exporter?.observe({ type: 'admin.request', rpc: 'PauseDequeue', code: 'OK', durationMs: 3 })
  const samples = parsePrometheusText(await exporter?.render() ?? '')
  t.equal(sampleValue(samples, 'sy_tasks_enqueued_total', { queue: 'mail', handler: 'send' }), 1)
  t.equal(sampleValue(samples, 'sy_admin_actions_total', { action: 'dequeue.pause' }), 1)
  t.match(await exporter?.snapshot(), { tasks: { totals: { enqueued: 1 } }, admin: { actions: { 'dequeue.pause': 1 } } })

  await app.ready()
  await app.close()
  t.equal((await exporter?.render() ?? '').trim(), '', 'closing the app closes the exporter')
})

t.test('loads by path; two apps in one process do not share metrics', async t => {
  const path = fileURLToPath(new URL('./index.ts', import.meta.url))
  const first = await appWith(t, path)
  const second = await appWith(t, 'metrics')
  t.match(first.loaded, [{ name: 'metrics', kind: 'path', from: path }])
  const [a] = first.registry.metricsExporters()
  const [b] = second.registry.metricsExporters()
  a?.observe({ type: 'task.enqueued', queue: 'mail', handler: 'send' })
  t.equal(sampleValue(parsePrometheusText(await a?.render() ?? ''), 'switchyard_tasks_enqueued_total', { queue: 'mail', handler: 'send' }), 1)
  t.equal(sampleValue(parsePrometheusText(await b?.render() ?? ''), 'switchyard_tasks_enqueued_total', { queue: 'mail', handler: 'send' }), undefined)
})

t.test('bad options fail loading with the plugin and field named', async t => {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await t.rejects(loadPlugins(app, [{ name: 'metrics', options: { prefix: 'no-dashes', maxSeries: 0 } }], { config, configDir }), {
    code: 'PLUGIN_OPTIONS_INVALID', message: /plugins\[0\]\(metrics\)\.options\.prefix/
  })
  const second = Fastify({ logger: false })
  t.teardown(() => second.close())
  await t.rejects(loadPlugins(second, [{ name: 'metrics', options: { buckets: [1, 1] } }], { config, configDir }), {
    code: 'VALIDATION_FAILED', message: /options\.buckets: bucket bounds must be strictly increasing/
  })
})
