import { Type, type Static } from 'typebox'

// Bucket bounds are seconds, as Prometheus expects; at most 50 so one series stays small.
function Buckets (description: string) {
  return Type.Optional(Type.Array(Type.Number({ exclusiveMinimum: 0 }), { minItems: 1, maxItems: 50, description }))
}

export const MetricsOptionsSchema = Type.Object({
  prefix: Type.String({
    pattern: '^(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?$',
    maxLength: 64,
    default: 'switchyard_',
    description: 'Prefix of every metric name'
  }),
  defaultMetrics: Type.Boolean({ default: false, description: "Also export Node process metrics (prom-client's collectDefaultMetrics)" }),
  buckets: Buckets('Upper bounds in seconds of the task duration histogram, increasing'),
  waitBuckets: Buckets('Upper bounds in seconds of the queue-wait histogram (runAt to start), increasing'),
  adminBuckets: Buckets('Upper bounds in seconds of the admin request duration histogram, increasing'),
  maxLabelValues: Type.Integer({
    minimum: 1,
    maximum: 100_000,
    default: 1000,
    description: 'Distinct values kept per label (queue, handler, rpc, code); later ones are counted under "_other"'
  }),
  maxSeries: Type.Integer({
    minimum: 1,
    maximum: 1_000_000,
    default: 10_000,
    description: 'Distinct queue/handler pairs kept; later pairs are counted under their queue with handler "_other"'
  })
}, { additionalProperties: false })

export type MetricsOptions = Static<typeof MetricsOptionsSchema>

export const DEFAULT_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] as const
export const DEFAULT_WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600] as const
export const DEFAULT_ADMIN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const
