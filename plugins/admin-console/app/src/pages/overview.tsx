import type { ReactNode } from 'react'
import { call } from '../api.ts'
import { LineChart } from '../chart.tsx'
import { useLiveData } from '../live.ts'
import { metricsHistoryRequest } from '../page-requests.ts'
import { hrefFor, useParams, type Route } from '../route.ts'
import { isMissingRpc, RANGE_KEYS, Timeline, trendFromEvents, useEventHistory, type RangeKey } from '../timeline.tsx'
import type { MetricsHistory, Overview as OverviewT } from '../types.ts'
import { ErrorBox, Loading, Tile, Time } from '../ui.tsx'

export function Overview ({ route }: { route: Route }): ReactNode {
  const [params, set] = useParams(route)
  const { data, error, loading } = useLiveData(() => call<OverviewT>('GetOverview'), [], { types: /^(task|queue|dlq|overview|audit)/ })
  const history = useEventHistory()
  const range = (RANGE_KEYS as string[]).includes(params.get('range') ?? '') ? params.get('range') as RangeKey : '1h'
  const trendQueue = params.get('trendQueue') ?? undefined
  // the cluster-wide metrics history when the server has it, else the events this tab received
  const metrics = useLiveData(() => call<MetricsHistory>('GetMetricsHistory', metricsHistoryRequest(params).fields), [range, trendQueue], { types: /^(task|dlq)/ })
  const fromHistory = metrics.data !== undefined
  const trend = fromHistory
    ? (['enqueued', 'succeeded', 'failed', 'replayed'] as const).map(name => ({ name, points: metrics.data?.points.map(p => p.counts[name]) ?? [] }))
    : trendFromEvents(history, range)
  const throughput = trendFromEvents(history, '1h')[1]?.points.slice(-5).reduce((a, b) => a + b, 0) ?? 0
  return (
    <>
      <h1>Overview</h1>
      <ErrorBox error={error} />
      <Loading when={loading && data === undefined} />
      {data !== undefined && (
        <>
          <section className="tiles" aria-label="Counts" data-testid="tiles">
            <Tile label="ready" value={data.totals.ready} href={hrefFor('tasks', { state: 'ready' })} />
            <Tile label="processing" value={data.totals.processing} href={hrefFor('tasks', { state: 'processing' })} />
            <Tile label="scheduled" value={data.totals.scheduled} href={hrefFor('tasks', { state: 'scheduled' })} />
            <Tile label="retrying" value={data.totals.retrying} href={hrefFor('tasks', { state: 'retrying' })} />
            <Tile label="succeeded" value={data.totals.succeeded} href={hrefFor('tasks', { state: 'succeeded' })} />
            <Tile label="canceled" value={data.totals.canceled} href={hrefFor('tasks', { state: 'canceled' })} />
            <Tile label="blocked" value={data.totals.blocked ?? 0} href={hrefFor('tasks', { state: 'blocked' })} />
            <Tile label="DLQ" value={data.totals.dead} href={hrefFor('dlq')} tone={data.totals.dead > 0 ? 'bad' : undefined} />
            <Tile label="live workers" value={data.activeWorkers ?? '—'} href={hrefFor('workers')} tone={data.activeWorkers === 0 ? 'warn' : undefined} />
            <Tile label="in flight" value={data.inFlight ?? '—'} />
            <Tile label="succeeded / 5 min" value={throughput} />
            <Tile label="latency avg" value={data.latency.avgMs === undefined ? '—' : `${Math.round(data.latency.avgMs)} ms`} />
            <Tile label="latency p95" value={data.latency.p95Ms === undefined ? '—' : `${Math.round(data.latency.p95Ms)} ms`} />
          </section>
          <p className="muted">Computed <Time at={data.generatedAt} />; latency from {data.latency.samples} completions in the last {data.latency.windowSeconds} s ({data.latency.source}).</p>
          {data.unservedHandlers.length > 0 && (
            <div className="banner warn" role="status">No live worker runs: {data.unservedHandlers.map(u => `${u.handler} (queue ${u.queue})`).join(', ')}. Their tasks wait.</div>
          )}
          <section aria-labelledby="coord-h" className="card">
            <h2 id="coord-h">Coordination</h2>
            <dl className="facts">
              <dt>Dequeue</dt><dd data-testid="global-pause">{data.coordination === undefined ? 'unknown' : data.coordination.globalPaused ? <span className="badge warn">paused everywhere</span> : 'running'}</dd>
              <dt>Rate limit</dt><dd>{data.coordination?.rateLimit === undefined ? 'none' : `${data.coordination.rateLimit.limit} starts per ${data.coordination.rateLimit.windowMs} ms`}</dd>
              <dt>Flow limits</dt><dd><a href={hrefFor('rate-limits')} data-testid="flow-limits-link">per queue and handler</a></dd>
              <dt>Leaders</dt><dd>{data.coordination === undefined || data.coordination.leaders.length === 0 ? 'none held' : data.coordination.leaders.map(l => <div key={l.name}><code>{l.name}</code>: {l.holder} (expires <Time at={l.expiresAt} />)</div>)}</dd>
              <dt>Admin actions</dt><dd>{data.actions.pauses} pauses, {data.actions.resumes} resumes, {data.actions.replays} replays ({data.actions.replayedTasks} tasks) since <Time at={data.actions.since} /></dd>
            </dl>
          </section>
        </>
      )}
      <section aria-labelledby="trend-h" className="card">
        <h2 id="trend-h">Trends</h2>
        <div className="tabs" role="tablist" aria-label="Range">
          {RANGE_KEYS.map(r => <button key={r} type="button" role="tab" aria-selected={r === range} onClick={() => set({ range: r === '1h' ? undefined : r })}>{r}</button>)}
        </div>
        {fromHistory && (metrics.data?.queues.length ?? 0) > 0 && (
          <label className="inline-label">Queue <select name="trendQueue" value={trendQueue ?? ''} onChange={e => set({ trendQueue: e.target.value })}>
            <option value="">all queues</option>
            {metrics.data?.queues.map(q => <option key={q}>{q}</option>)}
          </select></label>
        )}
        <LineChart title={`Tasks over the last ${range}`} series={trend} labels={[`-${range}`, 'now']} />
        <p className="muted">{fromHistory ? `Cluster-wide history, one point per ${metrics.data?.stepSeconds === 3600 ? 'hour' : 'minute'}.` : `From the ${history.length} most recent events of the log.`}</p>
        {metrics.error !== undefined && !isMissingRpc(metrics.error) && <ErrorBox error={metrics.error} />}
      </section>
      <Timeline params={params} set={set} />
    </>
  )
}
