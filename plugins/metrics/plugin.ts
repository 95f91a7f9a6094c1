// The metrics plugin: registers a Prometheus exporter; the admin service feeds it
// MetricEvents and serves render() and snapshot() on GET /admin/v1/metrics[/prometheus].
import { definePlugin } from '@switchyard/core/plugin'
import { createMetricsExporter } from './exporter.ts'
import { MetricsOptionsSchema } from './options.ts'

export default definePlugin({
  name: 'metrics',
  version: '0.1.0',
  options: MetricsOptionsSchema,
  register (hooks, options) {
    const exporter = createMetricsExporter(options)
    hooks.registerMetricsExporter(exporter)
    hooks.onClose(() => exporter.close())
  }
})
