import type { RequestOf, ResponseOf } from '../contract/rpcs.ts'
import { defineError } from '../errors.ts'
import type { MetricsExporter } from '../plugin/kinds.ts'

// GetMetrics reads the process's metrics exporter (the metrics plugin). Without one
// the RPC answers a clear 501 naming the fix rather than an empty document.
export const MetricsNotConfigured = defineError('METRICS_NOT_CONFIGURED')

export async function getMetrics (exporters: readonly MetricsExporter[], request: RequestOf<'GetMetrics'>): Promise<ResponseOf<'GetMetrics'>> {
  const exporter = exporters[0]
  if (exporter === undefined) {
    throw MetricsNotConfigured('no metrics exporter is registered: add the `metrics` plugin to the config (plugins: [{ name: metrics }])')
  }
  if (request.format === 'prometheus') return { contentType: exporter.contentType, body: await exporter.render() }
  return { contentType: 'application/json; charset=utf-8', body: JSON.stringify(await exporter.snapshot()) }
}
