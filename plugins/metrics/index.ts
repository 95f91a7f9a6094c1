// @switchyard/metrics: Switchyard's metrics on prom-client, as Prometheus text and a JSON snapshot.
export { createMetricsExporter, resolveMetricsOptions, EXPORTER_NAME, type PrometheusExporter } from './exporter.ts'
export { MetricsOptionsSchema, type MetricsOptions } from './options.ts'
export { estimateQuantile, type MetricsSnapshot, type DurationSummary, type TaskSeriesSnapshot, type QueueDepthSnapshot, type AdminRpcSnapshot } from './snapshot.ts'
export { OTHER_LABEL } from './label-cap.ts'
export { default } from './plugin.ts'
