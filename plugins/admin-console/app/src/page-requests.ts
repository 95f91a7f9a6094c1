// The first requests of the pages that open most often (overview, tasks, DLQ), computed
// from the URL alone. The pages call exactly these, and the boot module (main.tsx) sends
// the current page's before the app is loaded (prefetch.ts), so a first load waits for
// the server once, not for the script and then the server.
import type { RouteName } from '../../../../core/contract/routes.ts'
import { listFilterOf } from './list-filter.ts'

export interface PageRequest { rpc: RouteName, fields: Record<string, unknown> }

export const TASKS_PAGE_SIZE = 50
export const DLQ_PAGE_SIZE = 50
export const TIMELINE_PAGE_SIZE = 25
export const TREND_RANGES = ['1h', '24h', '7d', '30d'] as const
export type TrendRange = typeof TREND_RANGES[number]

function offsetOf (params: URLSearchParams): number { return Number(params.get('offset') ?? 0) || 0 }

/** pages of a cursor-paged list the URL keeps (cursors=c1.c2…, cursors are base64url): Newer goes back this far */
export const CURSOR_STACK_MAX = 30

/** the cursors of the pages before this one, oldest first; the last one asks for this page */
export function cursorsOf (params: URLSearchParams): string[] {
  return (params.get('cursors') ?? '').split('.').filter(c => /^[A-Za-z0-9_-]+$/.test(c)).slice(-CURSOR_STACK_MAX)
}

/** the page of a task list: its cursor when the URL has one (fast at any depth), else an offset (old links) */
function pagingOf (params: URLSearchParams): { cursor: string } | { offset: number } {
  const cursor = cursorsOf(params).at(-1)
  return cursor !== undefined ? { cursor } : { offset: offsetOf(params) }
}

/** the overview's trend range (range=, default 1h) */
export function trendRangeOf (params: URLSearchParams): TrendRange {
  const range = params.get('range') ?? ''
  return (TREND_RANGES as readonly string[]).includes(range) ? range as TrendRange : '1h'
}

export function metricsHistoryRequest (params: URLSearchParams): PageRequest {
  return { rpc: 'GetMetricsHistory', fields: { window: trendRangeOf(params), queue: params.get('trendQueue') ?? undefined } }
}

/** the timeline's page of the event log (kind, target and before= from the URL) */
export function timelineRequest (params: URLSearchParams): PageRequest {
  const kind = params.get('kind') ?? ''
  const target = params.get('target') ?? ''
  return {
    rpc: 'ListEvents',
    fields: {
      type: kind === '' ? undefined : kind === 'audit' || kind === 'overview' ? kind : `${kind}.`,
      target: target || undefined,
      beforeId: params.get('before') ?? undefined,
      limit: TIMELINE_PAGE_SIZE
    }
  }
}

/** the Tasks page's list; null for a key: search (GetTaskByKey answers that) */
export function tasksListRequest (params: URLSearchParams): PageRequest | null {
  if ((params.get('query') ?? '').startsWith('key:')) return null
  return { rpc: 'ListTasks', fields: { ...listFilterOf(params, true), limit: TASKS_PAGE_SIZE, ...pagingOf(params) } }
}

export function dlqListRequest (params: URLSearchParams): PageRequest {
  return { rpc: 'ListDLQ', fields: { ...listFilterOf(params, false), limit: DLQ_PAGE_SIZE, ...pagingOf(params) } }
}

/**
 * A page's requests in two groups: what its main content needs (sent at once) and what
 * can follow (sent when the first group has answered, so it does not queue in front of
 * it on the server).
 */
export function pageRequests (page: string, params: URLSearchParams): { first: PageRequest[], then: PageRequest[] } {
  switch (page) {
    case 'overview': return { first: [{ rpc: 'GetOverview', fields: {} }], then: [timelineRequest(params), metricsHistoryRequest(params)] }
    case 'tasks': {
      const list = tasksListRequest(params)
      return { first: list === null ? [] : [list], then: [] }
    }
    case 'dlq': return { first: [dlqListRequest(params)], then: [{ rpc: 'ListQueues', fields: {} }] }
    default: return { first: [], then: [] }
  }
}
