export { MetricsHistory, METRICS_HISTORY_LOCK, readMinutes, type MetricsHistoryOptions } from './recorder.ts'
export { getMetricsHistory } from './reader.ts'
export * from './steps.ts'
